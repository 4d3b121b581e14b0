//! The paper broker's fill rules as pure functions: when an order is marketable and at which
//! price it fills, on submission (against the latest quote) and later (against a bar).
//!
//! Bars are bid quotes (as MetaTrader's are): the bid is the bar price, the ask is the bid plus
//! the configured spread. Buys trade at the ask, sells at the bid. Slippage moves market and
//! stop fills against the trader; it never pushes a limit order past its limit.

use axia_domain::{OrderSpec, OrderType, Side};
use rust_decimal::Decimal;

/// Bid and ask at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quote {
    /// Where a sell trades.
    pub bid: Decimal,
    /// Where a buy trades.
    pub ask: Decimal,
}

impl Quote {
    /// A quote from a bid-side price and the spread.
    pub(crate) fn from_bid(bid: Decimal, spread: Decimal) -> Self {
        Self { bid, ask: bid + spread }
    }

    /// The price a market order of `side` trades at before slippage.
    const fn touch(&self, side: Side) -> Decimal {
        match side {
            Side::Buy => self.ask,
            Side::Sell => self.bid,
        }
    }
}

/// Bid-side open, high and low of a bar, as decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BarPrices {
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
}

/// `price` moved against a trader of `side` by `slippage`.
fn slip(side: Side, price: Decimal, slippage: Decimal) -> Decimal {
    price + side.sign() * slippage
}

/// The worse of two prices for a trader of `side`.
fn worse(side: Side, a: Decimal, b: Decimal) -> Decimal {
    match side {
        Side::Buy => a.max(b),
        Side::Sell => a.min(b),
    }
}

/// The better of two prices for a trader of `side`.
fn better(side: Side, a: Decimal, b: Decimal) -> Decimal {
    match side {
        Side::Buy => a.min(b),
        Side::Sell => a.max(b),
    }
}

/// Whether `price` is at or beyond `level` in the direction a limit of `side` wants
/// (buy: at or below, sell: at or above).
fn at_or_better(side: Side, price: Decimal, level: Decimal) -> bool {
    (level - price) * side.sign() >= Decimal::ZERO
}

/// Whether `price` has reached the stop `level` of a `side` stop (buy: at or above, sell: at or
/// below).
fn stop_reached(side: Side, price: Decimal, level: Decimal) -> bool {
    (price - level) * side.sign() >= Decimal::ZERO
}

/// The fill price of `spec` submitted against `quote`, or `None` when it must rest (a limit that
/// is not marketable, a stop that has not traded). The spec is assumed valid (a limit order has
/// a limit price, a stop order a stop price).
pub(crate) fn on_submit(spec: &OrderSpec, quote: Quote, slippage: Decimal) -> Option<Decimal> {
    let side = spec.side;
    let touch = quote.touch(side);
    match spec.order_type {
        OrderType::Market => Some(slip(side, touch, slippage)),
        OrderType::Limit => {
            let limit = spec.limit_price?;
            // Marketable: fill at the better of limit and market, never past the limit.
            at_or_better(side, touch, limit).then(|| better(side, limit, slip(side, touch, slippage)))
        }
        OrderType::Stop => {
            let stop = spec.stop_price?;
            // A buy stop triggers once the ask is at or above the stop (mirrored for a sell), and
            // then trades like a market order.
            stop_reached(side, touch, stop).then(|| slip(side, touch, slippage))
        }
    }
}

/// The fill price of a resting `spec` during a later bar, or `None` when the bar does not reach
/// its price. A bar that opens beyond the price (a gap) fills at the open: better than the limit
/// for a limit order, worse than the stop for a stop order.
pub(crate) fn on_bar(spec: &OrderSpec, bar: BarPrices, spread: Decimal, slippage: Decimal) -> Option<Decimal> {
    let side = spec.side;
    // The prices a trader of `side` could trade at during the bar.
    let (open, best, worst) = match side {
        Side::Buy => (bar.open + spread, bar.low + spread, bar.high + spread),
        Side::Sell => (bar.open, bar.high, bar.low),
    };
    match spec.order_type {
        OrderType::Market => None,
        OrderType::Limit => {
            let limit = spec.limit_price?;
            at_or_better(side, best, limit).then(|| better(side, limit, open))
        }
        OrderType::Stop => {
            let stop = spec.stop_price?;
            stop_reached(side, worst, stop).then(|| slip(side, worse(side, stop, open), slippage))
        }
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{ClientOrderId, Symbol};
    use rstest::rstest;
    use rust_decimal::dec;

    use super::*;

    fn spec(side: Side, order_type: OrderType, level: Option<Decimal>) -> OrderSpec {
        let level = level.filter(|_| order_type != OrderType::Market);
        OrderSpec::new(
            ClientOrderId::new("r-1").unwrap(),
            Symbol::new("EURUSD").unwrap(),
            side,
            order_type,
            dec!(1),
            level,
        )
    }

    const Q: Quote = Quote { bid: dec!(1.1000), ask: dec!(1.1002) };

    #[rstest]
    #[case::market_buy_at_ask(Side::Buy, OrderType::Market, None, Some(dec!(1.1002)))]
    #[case::market_sell_at_bid(Side::Sell, OrderType::Market, None, Some(dec!(1.1000)))]
    #[case::buy_limit_above_ask_fills_at_ask(Side::Buy, OrderType::Limit, Some(dec!(1.1010)), Some(dec!(1.1002)))]
    #[case::buy_limit_at_ask_fills(Side::Buy, OrderType::Limit, Some(dec!(1.1002)), Some(dec!(1.1002)))]
    #[case::buy_limit_below_ask_rests(Side::Buy, OrderType::Limit, Some(dec!(1.1001)), None)]
    #[case::sell_limit_below_bid_fills_at_bid(Side::Sell, OrderType::Limit, Some(dec!(1.0990)), Some(dec!(1.1000)))]
    #[case::sell_limit_above_bid_rests(Side::Sell, OrderType::Limit, Some(dec!(1.1001)), None)]
    #[case::buy_stop_below_ask_triggers(Side::Buy, OrderType::Stop, Some(dec!(1.0990)), Some(dec!(1.1002)))]
    #[case::buy_stop_at_ask_triggers(Side::Buy, OrderType::Stop, Some(dec!(1.1002)), Some(dec!(1.1002)))]
    #[case::buy_stop_above_ask_rests(Side::Buy, OrderType::Stop, Some(dec!(1.1003)), None)]
    #[case::sell_stop_above_bid_triggers(Side::Sell, OrderType::Stop, Some(dec!(1.1010)), Some(dec!(1.1000)))]
    #[case::sell_stop_below_bid_rests(Side::Sell, OrderType::Stop, Some(dec!(1.0999)), None)]
    fn submission(
        #[case] side: Side,
        #[case] ty: OrderType,
        #[case] level: Option<Decimal>,
        #[case] fill: Option<Decimal>,
    ) {
        assert_eq!(on_submit(&spec(side, ty, level), Q, Decimal::ZERO), fill);
    }

    #[rstest]
    #[case::market_buy(Side::Buy, OrderType::Market, None, Some(dec!(1.1003)))]
    #[case::market_sell(Side::Sell, OrderType::Market, None, Some(dec!(1.0999)))]
    #[case::limit_never_past_its_limit(Side::Buy, OrderType::Limit, Some(dec!(1.1002)), Some(dec!(1.1002)))]
    #[case::limit_slips_within_its_limit(Side::Buy, OrderType::Limit, Some(dec!(1.1010)), Some(dec!(1.1003)))]
    #[case::stop_slips(Side::Sell, OrderType::Stop, Some(dec!(1.1000)), Some(dec!(1.0999)))]
    fn slippage_goes_against_the_trader(
        #[case] side: Side,
        #[case] ty: OrderType,
        #[case] level: Option<Decimal>,
        #[case] fill: Option<Decimal>,
    ) {
        assert_eq!(on_submit(&spec(side, ty, level), Q, dec!(0.0001)), fill);
    }

    const BAR: BarPrices = BarPrices { open: dec!(1.1000), high: dec!(1.1020), low: dec!(1.0980) };

    #[rstest]
    #[case::buy_limit_touched(Side::Buy, OrderType::Limit, dec!(1.0990), Some(dec!(1.0990)))]
    #[case::buy_limit_missed(Side::Buy, OrderType::Limit, dec!(1.0970), None)]
    #[case::buy_limit_gap_fills_at_open(Side::Buy, OrderType::Limit, dec!(1.1010), Some(dec!(1.1000)))]
    #[case::sell_limit_touched(Side::Sell, OrderType::Limit, dec!(1.1015), Some(dec!(1.1015)))]
    #[case::sell_limit_missed(Side::Sell, OrderType::Limit, dec!(1.1030), None)]
    #[case::buy_stop_touched(Side::Buy, OrderType::Stop, dec!(1.1010), Some(dec!(1.1010)))]
    #[case::buy_stop_missed(Side::Buy, OrderType::Stop, dec!(1.1021), None)]
    #[case::buy_stop_gap_fills_at_open(Side::Buy, OrderType::Stop, dec!(1.0990), Some(dec!(1.1000)))]
    #[case::sell_stop_touched(Side::Sell, OrderType::Stop, dec!(1.0980), Some(dec!(1.0980)))]
    #[case::sell_stop_missed(Side::Sell, OrderType::Stop, dec!(1.0970), None)]
    fn resting_orders_against_a_bar(
        #[case] side: Side,
        #[case] ty: OrderType,
        #[case] level: Decimal,
        #[case] fill: Option<Decimal>,
    ) {
        assert_eq!(on_bar(&spec(side, ty, Some(level)), BAR, Decimal::ZERO, Decimal::ZERO), fill);
    }

    #[test]
    fn the_spread_moves_what_a_buyer_can_reach() {
        // Ask low = 1.0980 + 0.0005 = 1.0985: a buy limit at 1.0982 is not reached.
        let limit = spec(Side::Buy, OrderType::Limit, Some(dec!(1.0982)));
        assert_eq!(on_bar(&limit, BAR, dec!(0.0005), Decimal::ZERO), None);
        // Ask high = 1.1025: a buy stop at 1.1024 triggers.
        let stop = spec(Side::Buy, OrderType::Stop, Some(dec!(1.1024)));
        assert_eq!(on_bar(&stop, BAR, dec!(0.0005), Decimal::ZERO), Some(dec!(1.1024)));
    }
}
