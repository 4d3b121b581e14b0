//! The one contract suite of [`BrokerGateway`], run against every broker: the paper broker now,
//! the MT5-bridge adapter (over a fake bridge) later.
//!
//! A broker cannot be told what the market does, so the suite takes a [`MarketControl`] beside
//! it: the harness that moves the price the broker sees (bars in the paper broker's store, the
//! fake bridge's quotes) and reports which resting orders the move filled. The harness must run
//! the broker without spread or slippage: the suite expects market orders to fill exactly at the
//! price it set.
//!
//! The suite can run against a shared broker, and several times: every client order id carries
//! a fresh random prefix, each check uses its own symbol, and fills of other orders are ignored.
//! It never prices `ZZNOPX`, which must stay unknown to the broker.

use std::fmt::Debug;

use async_trait::async_trait;
use axia_domain::ports::{BrokerError, BrokerGateway, Execution};
use axia_domain::{ClientOrderId, Order, OrderSpec, OrderStatus, OrderType, Side, Symbol};
use chrono::Utc;
use rust_decimal::{Decimal, dec};

/// A resting order filled by a market move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestingFill {
    /// The id the broker gave the order when it returned [`Execution::Working`].
    pub broker_order_id: String,
    /// The fill ([`Execution::Filled`]).
    pub execution: Execution,
}

/// Moves the market a broker under test sees.
#[async_trait]
pub trait MarketControl: Send + Sync + Debug {
    /// Makes `price` the current price of `symbol` (bid and ask: no spread), as one new bar, or
    /// tick, that trades only at `price`; returns the fills this move caused to resting orders
    /// (of any symbol and any run).
    async fn set_price(&self, symbol: &Symbol, price: Decimal) -> Vec<RestingFill>;
}

/// Runs every check of the contract; panics naming the broker and the rule on the first
/// violation.
pub async fn run(broker: &dyn BrokerGateway, market: &dyn MarketControl) {
    let ids = Ids::new();
    market_orders_fill_at_the_current_price(broker, market, &ids).await;
    limits_rest_until_marketable(broker, market, &ids).await;
    marketable_limits_fill_no_worse_than_their_limit(broker, market, &ids).await;
    stops_trigger_only_when_crossed(broker, market, &ids).await;
    the_same_client_order_id_executes_once(broker, market, &ids).await;
    no_price_is_a_rejection_with_a_reason(broker, &ids).await;
}

/// Client order ids unique to one run of the suite.
#[derive(Debug)]
struct Ids {
    prefix: String,
}

impl Ids {
    fn new() -> Self {
        Self { prefix: format!("bc-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]) }
    }

    fn get(&self, name: &str) -> ClientOrderId {
        ClientOrderId::new(&format!("{}-{name}", self.prefix)).expect("contract ids are valid")
    }
}

fn symbol(s: &str) -> Symbol {
    Symbol::new(s).expect("contract symbols are valid")
}

/// An accepted order, as the order processor hands it to the broker.
fn order(id: ClientOrderId, symbol: &Symbol, side: Side, order_type: OrderType, level: Option<Decimal>) -> Order {
    let level = level.filter(|_| order_type != OrderType::Market);
    let spec = OrderSpec {
        strategy_id: Some("contract".into()),
        ..OrderSpec::new(id, symbol.clone(), side, order_type, dec!(1.5), level)
    };
    let mut o = Order::received(spec, Utc::now());
    o.transition(OrderStatus::Accepted, Utc::now()).expect("a received order can be accepted");
    o
}

async fn execute(broker: &dyn BrokerGateway, o: &Order) -> Execution {
    match broker.execute(o).await {
        Ok(e) => e,
        Err(e) => panic!("{}: {} {:?}: {e}", broker.name(), o.client_order_id(), o.spec().order_type),
    }
}

/// The fill price, after checking the fill is of the whole quantity and has an id.
fn filled(broker: &dyn BrokerGateway, o: &Order, e: &Execution) -> Decimal {
    match e {
        Execution::Filled { fill_id, quantity, price, .. } => {
            assert!(!fill_id.is_empty(), "{}: {} filled without a fill id", broker.name(), o.client_order_id());
            assert_eq!(
                *quantity,
                o.spec().quantity,
                "{}: {} must fill its whole quantity",
                broker.name(),
                o.client_order_id()
            );
            *price
        }
        Execution::Working { .. } => panic!("{}: {} should fill, it rests: {e:?}", broker.name(), o.client_order_id()),
    }
}

/// The resting order id, after checking the order rests.
fn working(broker: &dyn BrokerGateway, o: &Order, e: &Execution) -> String {
    match e {
        Execution::Working { broker_order_id } => {
            assert!(!broker_order_id.is_empty(), "{}: {} rests without an id", broker.name(), o.client_order_id());
            broker_order_id.clone()
        }
        Execution::Filled { .. } => panic!("{}: {} should rest, it filled: {e:?}", broker.name(), o.client_order_id()),
    }
}

/// The fill of `broker_order_id` among `fills`, if any.
fn fill_of(fills: &[RestingFill], broker_order_id: &str) -> Option<Execution> {
    fills.iter().find(|f| f.broker_order_id == broker_order_id).map(|f| f.execution.clone())
}

async fn market_orders_fill_at_the_current_price(broker: &dyn BrokerGateway, market: &dyn MarketControl, ids: &Ids) {
    let eurusd = symbol("EURUSD");
    market.set_price(&eurusd, dec!(1.1000)).await;
    let buy = order(ids.get("mkt-buy"), &eurusd, Side::Buy, OrderType::Market, None);
    let sell = order(ids.get("mkt-sell"), &eurusd, Side::Sell, OrderType::Market, None);
    let buy_fill = execute(broker, &buy).await;
    let sell_fill = execute(broker, &sell).await;
    assert_eq!(filled(broker, &buy, &buy_fill), dec!(1.1000), "{}: market buy price", broker.name());
    assert_eq!(filled(broker, &sell, &sell_fill), dec!(1.1000), "{}: market sell price", broker.name());
    let (Execution::Filled { fill_id: a, .. }, Execution::Filled { fill_id: b, .. }) = (&buy_fill, &sell_fill) else {
        unreachable!("both checked as fills")
    };
    assert_ne!(a, b, "{}: two orders got the same fill id", broker.name());

    // The price moved: the next market order fills at the new one.
    market.set_price(&eurusd, dec!(1.1020)).await;
    let again = order(ids.get("mkt-buy-2"), &eurusd, Side::Buy, OrderType::Market, None);
    let e = execute(broker, &again).await;
    assert_eq!(filled(broker, &again, &e), dec!(1.1020), "{}: market buy after a move", broker.name());
}

async fn limits_rest_until_marketable(broker: &dyn BrokerGateway, market: &dyn MarketControl, ids: &Ids) {
    let gbpusd = symbol("GBPUSD");
    market.set_price(&gbpusd, dec!(1.3000)).await;
    let buy = order(ids.get("lim-buy-rest"), &gbpusd, Side::Buy, OrderType::Limit, Some(dec!(1.2950)));
    let sell = order(ids.get("lim-sell-rest"), &gbpusd, Side::Sell, OrderType::Limit, Some(dec!(1.3050)));
    let buy_id = working(broker, &buy, &execute(broker, &buy).await);
    let sell_id = working(broker, &sell, &execute(broker, &sell).await);

    // Moves that do not reach either limit fill neither.
    for price in [dec!(1.2960), dec!(1.3040)] {
        let fills = market.set_price(&gbpusd, price).await;
        assert_eq!(fill_of(&fills, &buy_id), None, "{}: buy limit 1.2950 filled at {price}", broker.name());
        assert_eq!(fill_of(&fills, &sell_id), None, "{}: sell limit 1.3050 filled at {price}", broker.name());
    }
    // Reaching the buy limit fills it, no worse than its limit; the sell limit still rests.
    let fills = market.set_price(&gbpusd, dec!(1.2940)).await;
    let e =
        fill_of(&fills, &buy_id).unwrap_or_else(|| panic!("{}: buy limit 1.2950 not filled at 1.2940", broker.name()));
    assert!(filled(broker, &buy, &e) <= dec!(1.2950), "{}: buy limit filled above its limit: {e:?}", broker.name());
    assert_eq!(fill_of(&fills, &sell_id), None, "{}: sell limit 1.3050 filled at 1.2940", broker.name());
    let fills = market.set_price(&gbpusd, dec!(1.3060)).await;
    let e = fill_of(&fills, &sell_id)
        .unwrap_or_else(|| panic!("{}: sell limit 1.3050 not filled at 1.3060", broker.name()));
    assert!(filled(broker, &sell, &e) >= dec!(1.3050), "{}: sell limit filled below its limit: {e:?}", broker.name());
    assert_eq!(fill_of(&fills, &buy_id), None, "{}: a filled buy limit filled again", broker.name());
}

async fn marketable_limits_fill_no_worse_than_their_limit(
    broker: &dyn BrokerGateway,
    market: &dyn MarketControl,
    ids: &Ids,
) {
    let usdjpy = symbol("USDJPY");
    market.set_price(&usdjpy, dec!(150.00)).await;
    let buy = order(ids.get("lim-buy-now"), &usdjpy, Side::Buy, OrderType::Limit, Some(dec!(150.50)));
    let sell = order(ids.get("lim-sell-now"), &usdjpy, Side::Sell, OrderType::Limit, Some(dec!(149.50)));
    let buy_price = filled(broker, &buy, &execute(broker, &buy).await);
    let sell_price = filled(broker, &sell, &execute(broker, &sell).await);
    assert!(buy_price <= dec!(150.50), "{}: marketable buy limit 150.50 filled at {buy_price}", broker.name());
    assert!(sell_price >= dec!(149.50), "{}: marketable sell limit 149.50 filled at {sell_price}", broker.name());
}

async fn stops_trigger_only_when_crossed(broker: &dyn BrokerGateway, market: &dyn MarketControl, ids: &Ids) {
    let eurjpy = symbol("EURJPY");
    market.set_price(&eurjpy, dec!(160.00)).await;
    let buy = order(ids.get("stp-buy"), &eurjpy, Side::Buy, OrderType::Stop, Some(dec!(160.50)));
    let sell = order(ids.get("stp-sell"), &eurjpy, Side::Sell, OrderType::Stop, Some(dec!(159.50)));
    let buy_id = working(broker, &buy, &execute(broker, &buy).await);
    let sell_id = working(broker, &sell, &execute(broker, &sell).await);

    for price in [dec!(160.40), dec!(159.60)] {
        let fills = market.set_price(&eurjpy, price).await;
        assert_eq!(fill_of(&fills, &buy_id), None, "{}: buy stop 160.50 triggered at {price}", broker.name());
        assert_eq!(fill_of(&fills, &sell_id), None, "{}: sell stop 159.50 triggered at {price}", broker.name());
    }
    let fills = market.set_price(&eurjpy, dec!(160.60)).await;
    let e = fill_of(&fills, &buy_id)
        .unwrap_or_else(|| panic!("{}: buy stop 160.50 not triggered at 160.60", broker.name()));
    assert!(filled(broker, &buy, &e) >= dec!(160.50), "{}: buy stop filled below its stop: {e:?}", broker.name());
    assert_eq!(fill_of(&fills, &sell_id), None, "{}: sell stop 159.50 triggered at 160.60", broker.name());
    let fills = market.set_price(&eurjpy, dec!(159.40)).await;
    let e = fill_of(&fills, &sell_id)
        .unwrap_or_else(|| panic!("{}: sell stop 159.50 not triggered at 159.40", broker.name()));
    assert!(filled(broker, &sell, &e) <= dec!(159.50), "{}: sell stop filled above its stop: {e:?}", broker.name());

    // A stop the market has already passed triggers at once, at the market.
    let passed = order(ids.get("stp-buy-passed"), &eurjpy, Side::Buy, OrderType::Stop, Some(dec!(159.00)));
    let price = filled(broker, &passed, &execute(broker, &passed).await);
    assert_eq!(price, dec!(159.40), "{}: a passed buy stop fills at the market", broker.name());
}

async fn the_same_client_order_id_executes_once(broker: &dyn BrokerGateway, market: &dyn MarketControl, ids: &Ids) {
    let audusd = symbol("AUDUSD");
    market.set_price(&audusd, dec!(0.6500)).await;
    let o = order(ids.get("dup-mkt"), &audusd, Side::Buy, OrderType::Market, None);
    let first = execute(broker, &o).await;
    filled(broker, &o, &first);
    market.set_price(&audusd, dec!(0.6600)).await;
    let second = execute(broker, &o).await;
    assert_eq!(second, first, "{}: executing {} twice must return the first fill", broker.name(), o.client_order_id());

    // A resting order executed twice rests once, and once filled reads as filled.
    let rest = order(ids.get("dup-lim"), &audusd, Side::Buy, OrderType::Limit, Some(dec!(0.6400)));
    let id = working(broker, &rest, &execute(broker, &rest).await);
    assert_eq!(
        execute(broker, &rest).await,
        Execution::Working { broker_order_id: id.clone() },
        "{}: a resting order executed twice",
        broker.name()
    );
    let fills = market.set_price(&audusd, dec!(0.6390)).await;
    let e = fill_of(&fills, &id).unwrap_or_else(|| panic!("{}: buy limit 0.6400 not filled at 0.6390", broker.name()));
    assert_eq!(execute(broker, &rest).await, e, "{}: a filled resting order executed again", broker.name());
    let again = market.set_price(&audusd, dec!(0.6380)).await;
    assert_eq!(fill_of(&again, &id), None, "{}: a resting order filled twice", broker.name());
}

async fn no_price_is_a_rejection_with_a_reason(broker: &dyn BrokerGateway, ids: &Ids) {
    let unknown = symbol("ZZNOPX");
    let o = order(ids.get("no-price"), &unknown, Side::Buy, OrderType::Market, None);
    match broker.execute(&o).await {
        Err(BrokerError::Rejected { reason }) => {
            assert!(reason.contains("ZZNOPX"), "{}: the rejection should name the symbol: {reason}", broker.name());
        }
        other => panic!("{}: an order for a symbol without a price must be rejected, got {other:?}", broker.name()),
    }
}
