//! [`PaperBroker`]: the embedded default [`BrokerGateway`]. It sends nothing anywhere: it fills
//! orders against the bars the collector stored, by the rules of `docs/paper-broker.md`.
//!
//! # Prices
//! The price of a symbol is the close of its newest bar at the base timeframe (default M1) in
//! the bar store, among bars that opened at or before the clock's now. Bars are bid quotes; the
//! ask is the bid plus the configured spread. A bar older than the staleness limit (measured
//! from its close) is no price at all.
//!
//! # No price: rejected, not retried
//! When the store holds no recent bar of the symbol, the order is
//! [`BrokerError::Rejected`] ("no recent price for EURUSD: …"), not `Unavailable`: a missing
//! price means the collector has not run, the symbol is unknown or the market is closed, and
//! none of these is fixed by redelivering the message a few seconds later. Filling the order
//! whenever the collector catches up would execute a market order at a price its strategy never
//! saw. Only a store that cannot be reached ([`RepositoryError::Unavailable`]) makes the order
//! `Unavailable` (nothing was executed, a retry is safe); a corrupt or misconfigured store
//! rejects.
//!
//! # Idempotency
//! The broker remembers what it did with each client order id: executing the same order again
//! returns the same [`Execution`] (the same fill id, price and time, or the same resting order),
//! and never fills twice. Reusing an id for a different order is rejected. Fill ids are
//! `paper-fill-{client order id}`, resting orders `paper-order-{client order id}`. Rejections are
//! not remembered (a resend is judged afresh), and the memory is per process and bounded
//! ([`PaperBrokerConfig::remember_fills`]): across restarts the order repository is the guard.

mod book;
mod rules;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use axia_domain::ports::{BrokerError, BrokerGateway, Execution, OhlcvDataRepository, RepositoryError};
use axia_domain::{Bar, ClientOrderId, Clock, Order, SeriesKey, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use book::{PaperFill, WorkingOrder};

use book::{Book, Previous};
use rules::{BarPrices, Quote};

/// The largest staleness limit honoured: about a century, in seconds.
const MAX_AGE_CAP: u64 = 100 * 366 * 86_400;

/// Settings of the paper broker (`[broker.paper]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaperBrokerConfig {
    /// The timeframe whose newest close is the current price. Default `M1`.
    pub base_timeframe: Timeframe,
    /// The oldest price accepted, in seconds from the close of the newest bar to now. Default
    /// 300 (five minutes).
    pub max_price_age_secs: u64,
    /// Ask minus bid, in price units, paid by buys. Default 0.
    pub spread: Decimal,
    /// How far market and stop fills move against the trader, in price units. Default 0.
    pub slippage: Decimal,
    /// How many fills are remembered for deduplication (oldest forgotten first). Default 100,000.
    pub remember_fills: usize,
}

impl Default for PaperBrokerConfig {
    fn default() -> Self {
        Self {
            base_timeframe: Timeframe::M1,
            max_price_age_secs: 300,
            spread: Decimal::ZERO,
            slippage: Decimal::ZERO,
            remember_fills: 100_000,
        }
    }
}

/// The paper broker (see the [module documentation](self)).
pub struct PaperBroker {
    prices: Arc<dyn OhlcvDataRepository>,
    clock: Arc<dyn Clock>,
    config: PaperBrokerConfig,
    book: Mutex<Book>,
}

impl fmt::Debug for PaperBroker {
    // The book can hold 100,000 fills: print only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaperBroker")
            .field("prices", &self.prices.name())
            .field("config", &self.config)
            .field("working_orders", &self.lock().working().len())
            .finish_non_exhaustive()
    }
}

impl PaperBroker {
    /// A paper broker pricing from `prices` at the time `clock` tells.
    #[must_use]
    pub fn new(prices: Arc<dyn OhlcvDataRepository>, clock: Arc<dyn Clock>, config: PaperBrokerConfig) -> Self {
        let book = Mutex::new(Book::new(config.remember_fills));
        Self { prices, clock, config, book }
    }

    /// The settings.
    #[must_use]
    pub const fn config(&self) -> &PaperBrokerConfig {
        &self.config
    }

    /// The resting limit and stop orders, oldest first.
    #[must_use]
    pub fn working_orders(&self) -> Vec<WorkingOrder> {
        self.lock().working()
    }

    /// Cancels a resting order; returns it, or `None` when `id` does not rest (unknown, or
    /// already filled).
    pub fn cancel(&self, id: &ClientOrderId) -> Option<WorkingOrder> {
        self.lock().cancel(id)
    }

    /// Fills the resting orders of `symbol` that `bar` reaches, oldest first, and returns the
    /// fills. Orders placed after the bar opened are left alone: the bar's range may lie before
    /// they existed. A filled order then reads as filled when executed again.
    pub fn on_bar(&self, symbol: &Symbol, bar: &Bar) -> Vec<PaperFill> {
        let (Some(open), Some(high), Some(low)) = (decimal(bar.open()), decimal(bar.high()), decimal(bar.low())) else {
            tracing::warn!(%symbol, ?bar, "paper broker: bar prices do not fit a decimal; no resting order filled");
            return Vec::new();
        };
        let prices = BarPrices { open, high, low };
        let mut book = self.lock();
        let mut fills = Vec::new();
        for w in book.working() {
            if w.spec.symbol != *symbol || bar.open_time() < w.placed_at {
                continue;
            }
            let Some(price) = rules::on_bar(&w.spec, prices, self.config.spread, self.config.slippage) else {
                continue;
            };
            // A sell stop slipped below zero in a crash: the bar's low is the worst real price.
            let price = if price > Decimal::ZERO { price } else { low };
            let execution = filled(&w.spec.client_order_id, w.quantity, price, bar.open_time());
            fills.extend(book.fill_working(&w.spec.client_order_id, execution));
        }
        fills
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // The book is changed by single inserts and removals: still consistent after a panic.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current quote of `symbol`.
    async fn quote(&self, symbol: &Symbol, now: DateTime<Utc>) -> Result<Quote, BrokerError> {
        let tf = self.config.base_timeframe;
        let key = SeriesKey::new(symbol.clone(), tf);
        // Capped at a century, so that the window start below cannot overflow.
        let max_age = TimeDelta::seconds(i64::try_from(self.config.max_price_age_secs.min(MAX_AGE_CAP)).unwrap_or(0));
        // Every bar whose close can lie within the age limit, up to now.
        let start = now.checked_sub_signed(max_age + tf.duration()).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let range = TimeRange::new(start, now + TimeDelta::seconds(1)).map_err(|e| rejected(symbol, e))?;
        let series = self.prices.get_range(&key, range).await.map_err(|e| self.store_error(symbol, &e))?;
        let Some(bar) = series.bars().iter().rev().find(|b| b.open_time() <= now) else {
            return Err(self.no_price(&key, max_age).await);
        };
        if now - (bar.open_time() + tf.duration()) > max_age {
            return Err(BrokerError::Rejected {
                reason: format!(
                    "no recent price for {symbol}: the newest {tf} bar (opened at {}) closed more than {}s ago",
                    bar.open_time(),
                    max_age.num_seconds()
                ),
            });
        }
        let bid =
            decimal(bar.close()).ok_or_else(|| rejected(symbol, format!("price {} out of range", bar.close())))?;
        Ok(Quote::from_bid(bid, self.config.spread))
    }

    /// The rejection for a symbol without a bar in the age window, saying whether the store
    /// knows it at all.
    async fn no_price(&self, key: &SeriesKey, max_age: TimeDelta) -> BrokerError {
        let why = match self.prices.coverage(key).await {
            Ok(None) => format!(
                "the {} store holds no {} bars of it (unknown symbol, or never collected)",
                self.prices.name(),
                key.timeframe
            ),
            Ok(Some(c)) => format!(
                "its newest {} bar (opened at {}) closed more than {}s ago (has the collector run? is the market open?)",
                key.timeframe,
                c.last,
                max_age.num_seconds()
            ),
            Err(_) => format!("no {} bar in the last {}s", key.timeframe, max_age.num_seconds()),
        };
        BrokerError::Rejected { reason: format!("no recent price for {}: {why}", key.symbol) }
    }

    fn store_error(&self, symbol: &Symbol, e: &RepositoryError) -> BrokerError {
        let name = self.prices.name();
        if e.is_retryable() {
            BrokerError::Unavailable { detail: format!("price store {name} for {symbol}: {e}") }
        } else {
            rejected(symbol, format!("price store {name}: {e}"))
        }
    }

    /// The outcome of a new order: a fill, or a resting order.
    async fn place(&self, order: &Order, quantity: Decimal) -> Result<Execution, BrokerError> {
        let spec = order.spec();
        let now = self.clock.now();
        let quote = self.quote(&spec.symbol, now).await?;
        let id = &spec.client_order_id;
        let mut book = self.lock();
        // A concurrent execute of the same id may have won while we read the price.
        match book.previous(spec) {
            Previous::Same(execution) => return Ok(execution),
            Previous::Different => return Err(reused(id)),
            Previous::None => {}
        }
        match rules::on_submit(spec, quote, self.config.slippage) {
            Some(price) if price > Decimal::ZERO => {
                let execution = filled(id, quantity, price, now);
                book.record_fill(spec.clone(), execution.clone());
                Ok(execution)
            }
            Some(price) => Err(rejected(&spec.symbol, format!("fill price {price} is not positive"))),
            None => {
                let broker_order_id = format!("paper-order-{id}");
                book.record_working(WorkingOrder {
                    broker_order_id: broker_order_id.clone(),
                    spec: spec.clone(),
                    quantity,
                    placed_at: now,
                });
                Ok(Execution::Working { broker_order_id })
            }
        }
    }
}

#[async_trait]
impl BrokerGateway for PaperBroker {
    fn name(&self) -> &str {
        "paper"
    }

    async fn execute(&self, order: &Order) -> Result<Execution, BrokerError> {
        let spec = order.spec();
        match self.lock().previous(spec) {
            Previous::Same(execution) => return Ok(execution),
            Previous::Different => return Err(reused(&spec.client_order_id)),
            Previous::None => {}
        }
        spec.validate().map_err(|e| BrokerError::Rejected { reason: e.to_string() })?;
        let quantity = spec.quantity - order.filled_quantity();
        if quantity <= Decimal::ZERO {
            return Err(BrokerError::Rejected {
                reason: format!("order {} has nothing left to fill", spec.client_order_id),
            });
        }
        self.place(order, quantity).await
    }
}

/// The fill of `id`; its id is deterministic, so a replayed order reports the same fill.
fn filled(id: &ClientOrderId, quantity: Decimal, price: Decimal, at: DateTime<Utc>) -> Execution {
    Execution::Filled { fill_id: format!("paper-fill-{id}"), quantity, price: price.normalize(), at }
}

fn rejected(symbol: &Symbol, detail: impl fmt::Display) -> BrokerError {
    BrokerError::Rejected { reason: format!("{symbol}: {detail}") }
}

fn reused(id: &ClientOrderId) -> BrokerError {
    BrokerError::Rejected { reason: format!("client order id {id} was already used for a different order") }
}

/// A bar price as a decimal: the shortest decimal that reads back as the same `f64` (ADR 0003),
/// so `1.1` is `1.1`, not `1.100000000000000088…`. `None` when it does not fit a decimal.
fn decimal(price: f64) -> Option<Decimal> {
    price.to_string().parse().ok().or_else(|| Decimal::from_f64_retain(price))
}

#[cfg(test)]
mod tests;
