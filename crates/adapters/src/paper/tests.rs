use axia_domain::ports::MockOhlcvDataRepository;
use axia_domain::{FixedClock, OhlcvSeries, OrderSpec, OrderStatus, OrderType, Side};
use chrono::TimeZone;
use rstest::{fixture, rstest};
use rust_decimal::dec;

use super::*;
use crate::memory::InMemoryOhlcvRepository;

/// Tuesday 2025-09-02 12:00 UTC: FX is open.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap()
}

fn eurusd() -> Symbol {
    Symbol::new("EURUSD").unwrap()
}

fn order(id: &str, side: Side, order_type: OrderType, level: Option<Decimal>) -> Order {
    let level = level.filter(|_| order_type != OrderType::Market);
    let spec = OrderSpec::new(ClientOrderId::new(id).unwrap(), eurusd(), side, order_type, dec!(2), level);
    let mut o = Order::received(spec, t0());
    o.transition(OrderStatus::Accepted, t0()).unwrap();
    o
}

fn market(id: &str, side: Side) -> Order {
    order(id, side, OrderType::Market, None)
}

fn bar(at: DateTime<Utc>, open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar::new(at, open, high, low, close, 1).unwrap()
}

struct Harness {
    store: Arc<InMemoryOhlcvRepository>,
    clock: Arc<FixedClock>,
    broker: PaperBroker,
}

impl Harness {
    async fn put(&self, bar: Bar) {
        let key = SeriesKey::new(eurusd(), Timeframe::M1);
        self.store.upsert(&OhlcvSeries::new(key, vec![bar]).unwrap()).await.unwrap();
    }
}

fn harness_with(config: PaperBrokerConfig) -> Harness {
    let store = Arc::new(InMemoryOhlcvRepository::new());
    let clock = Arc::new(FixedClock::new(t0()));
    let broker = PaperBroker::new(store.clone(), clock.clone(), config);
    Harness { store, clock, broker }
}

#[fixture]
fn h() -> Harness {
    harness_with(PaperBrokerConfig::default())
}

fn fill_price(e: &Execution) -> Decimal {
    match e {
        Execution::Filled { price, .. } => *price,
        Execution::Working { .. } => panic!("expected a fill, got {e:?}"),
    }
}

fn reason(e: BrokerError) -> String {
    match e {
        BrokerError::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[rstest]
#[tokio::test]
async fn a_market_order_fills_at_the_newest_close(h: Harness) {
    h.put(bar(t0() - TimeDelta::minutes(1), 1.0990, 1.1, 1.098, 1.0995)).await;
    h.put(bar(t0(), 1.0995, 1.1010, 1.0990, 1.1005)).await;
    let e = h.broker.execute(&market("m-1", Side::Buy)).await.unwrap();
    assert_eq!(
        e,
        Execution::Filled { fill_id: "paper-fill-m-1".into(), quantity: dec!(2), price: dec!(1.1005), at: t0() }
    );
}

#[rstest]
#[tokio::test]
async fn a_bar_opening_after_now_is_not_known_yet(h: Harness) {
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    h.put(bar(t0() + TimeDelta::minutes(1), 1.2, 1.2, 1.2, 1.2)).await;
    assert_eq!(fill_price(&h.broker.execute(&market("m-1", Side::Sell)).await.unwrap()), dec!(1.1));
}

#[rstest]
#[case::fresh(TimeDelta::seconds(299), true)]
#[case::just_within_the_limit(TimeDelta::seconds(300), true)]
#[case::stale(TimeDelta::seconds(301), false)]
#[tokio::test]
async fn a_price_older_than_the_limit_is_no_price(h: Harness, #[case] age: TimeDelta, #[case] fills: bool) {
    // The limit (300 s) counts from the bar's close, one minute after it opened.
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    h.clock.set(t0() + TimeDelta::minutes(1) + age);
    let got = h.broker.execute(&market("m-1", Side::Buy)).await;
    if fills {
        assert_eq!(fill_price(&got.unwrap()), dec!(1.1));
    } else {
        let why = reason(got.unwrap_err());
        assert!(why.starts_with("no recent price for EURUSD"), "{why}");
        assert!(why.contains("collector"), "{why}");
    }
}

#[tokio::test]
async fn a_huge_staleness_limit_accepts_any_old_price() {
    let h = harness_with(PaperBrokerConfig { max_price_age_secs: u64::MAX, ..PaperBrokerConfig::default() });
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    h.clock.advance(TimeDelta::days(3650));
    assert_eq!(fill_price(&h.broker.execute(&market("m-1", Side::Buy)).await.unwrap()), dec!(1.1));
}

#[rstest]
#[tokio::test]
async fn an_unknown_symbol_is_rejected_with_a_reason(h: Harness) {
    let why = reason(h.broker.execute(&market("m-1", Side::Buy)).await.unwrap_err());
    assert!(why.starts_with("no recent price for EURUSD"), "{why}");
    assert!(why.contains("unknown symbol"), "{why}");
}

#[tokio::test]
async fn an_unreachable_store_is_retryable_and_a_corrupt_one_rejects() {
    for (error, retryable) in
        [(RepositoryError::unavailable("redis", "timeout"), true), (RepositoryError::corrupt("bars", "bad"), false)]
    {
        let mut store = MockOhlcvDataRepository::new();
        store.expect_name().return_const("redis".to_string());
        let e = error.clone();
        store.expect_get_range().returning(move |_, _| Err(e.clone()));
        let broker = PaperBroker::new(Arc::new(store), Arc::new(FixedClock::new(t0())), PaperBrokerConfig::default());
        let got = broker.execute(&market("m-1", Side::Buy)).await.unwrap_err();
        assert_eq!(got.is_retryable(), retryable, "{got:?}");
        assert!(got.to_string().contains("redis"), "{got}");
    }
}

#[rstest]
#[case::buy_pays_spread_and_slippage(Side::Buy, dec!(1.1004))]
#[case::sell_gets_bid_minus_slippage(Side::Sell, dec!(1.0999))]
#[tokio::test]
async fn spread_and_slippage(#[case] side: Side, #[case] price: Decimal) {
    let h = harness_with(PaperBrokerConfig {
        spread: dec!(0.0003),
        slippage: dec!(0.0001),
        ..PaperBrokerConfig::default()
    });
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    assert_eq!(fill_price(&h.broker.execute(&market("m-1", side)).await.unwrap()), price);
}

#[rstest]
#[tokio::test]
async fn the_same_order_twice_fills_once(h: Harness) {
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    let first = h.broker.execute(&market("m-1", Side::Buy)).await.unwrap();
    h.clock.advance(TimeDelta::minutes(1));
    h.put(bar(t0() + TimeDelta::minutes(1), 1.2, 1.2, 1.2, 1.2)).await;
    assert_eq!(h.broker.execute(&market("m-1", Side::Buy)).await.unwrap(), first);
    let why = reason(h.broker.execute(&market("m-1", Side::Sell)).await.unwrap_err());
    assert!(why.contains("already used"), "{why}");
}

#[rstest]
#[tokio::test]
async fn resting_orders_fill_when_a_later_bar_reaches_them(h: Harness) {
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    let limit = order("l-1", Side::Buy, OrderType::Limit, Some(dec!(1.0950)));
    let stop = order("s-1", Side::Buy, OrderType::Stop, Some(dec!(1.1050)));
    let working = Execution::Working { broker_order_id: "paper-order-l-1".into() };
    assert_eq!(h.broker.execute(&limit).await.unwrap(), working);
    assert!(matches!(h.broker.execute(&stop).await.unwrap(), Execution::Working { .. }));
    assert_eq!(h.broker.working_orders().len(), 2);

    // The bar the orders were placed in does not count; a later bar that misses both neither.
    assert!(h.broker.on_bar(&eurusd(), &bar(t0() - TimeDelta::minutes(1), 1.1, 1.2, 1.0, 1.1)).is_empty());
    let next = t0() + TimeDelta::minutes(1);
    assert!(h.broker.on_bar(&eurusd(), &bar(next, 1.1, 1.104, 1.096, 1.1)).is_empty());
    assert!(h.broker.on_bar(&Symbol::new("USDJPY").unwrap(), &bar(next, 1.1, 1.2, 1.0, 1.1)).is_empty());

    // This one dips through the limit only.
    let fills = h.broker.on_bar(&eurusd(), &bar(next + TimeDelta::minutes(1), 1.1, 1.101, 1.094, 1.1));
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].broker_order_id, "paper-order-l-1");
    assert_eq!(
        fills[0].execution,
        Execution::Filled {
            fill_id: "paper-fill-l-1".into(),
            quantity: dec!(2),
            price: dec!(1.095),
            at: next + TimeDelta::minutes(1)
        }
    );
    // Executing it again reports the fill; only the stop still rests.
    assert_eq!(h.broker.execute(&limit).await.unwrap(), fills[0].execution);
    let rest: Vec<_> = h.broker.working_orders().into_iter().map(|w| w.broker_order_id).collect();
    assert_eq!(rest, ["paper-order-s-1"]);

    // A gap through the stop fills at the open.
    let fills = h.broker.on_bar(&eurusd(), &bar(next + TimeDelta::minutes(2), 1.106, 1.107, 1.105, 1.106));
    assert_eq!(fill_price(&fills[0].execution), dec!(1.106));
    assert!(h.broker.working_orders().is_empty());
}

#[rstest]
#[tokio::test]
async fn a_cancelled_order_no_longer_rests(h: Harness) {
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    let limit = order("l-1", Side::Sell, OrderType::Limit, Some(dec!(1.2)));
    h.broker.execute(&limit).await.unwrap();
    assert!(h.broker.cancel(limit.client_order_id()).is_some());
    assert!(h.broker.cancel(limit.client_order_id()).is_none());
    assert!(h.broker.on_bar(&eurusd(), &bar(t0() + TimeDelta::minutes(1), 1.3, 1.3, 1.3, 1.3)).is_empty());
}

#[rstest]
#[tokio::test]
async fn an_invalid_order_is_rejected(h: Harness) {
    h.put(bar(t0(), 1.1, 1.1, 1.1, 1.1)).await;
    let no_limit = order("l-1", Side::Buy, OrderType::Limit, None);
    let why = reason(h.broker.execute(&no_limit).await.unwrap_err());
    assert!(why.contains("limit price"), "{why}");
}

#[test]
fn config_defaults_and_reads_from_toml_like_json() {
    let c: PaperBrokerConfig = serde_json::from_str(r#"{"spread": "0.0002", "base_timeframe": "M5"}"#).unwrap();
    assert_eq!(c.spread, dec!(0.0002));
    assert_eq!(c.base_timeframe, Timeframe::M5);
    assert_eq!(c.max_price_age_secs, 300);
    assert!(serde_json::from_str::<PaperBrokerConfig>(r#"{"sprad": 1}"#).is_err());
}

#[test]
fn bar_prices_become_short_decimals() {
    assert_eq!(decimal(1.1), Some(dec!(1.1)));
    assert_eq!(decimal(151.234), Some(dec!(151.234)));
    assert_eq!(decimal(1e40), None);
}
