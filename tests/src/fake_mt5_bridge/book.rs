//! The fake bridge's state and its answers to each endpoint of `docs/mt5-bridge.md`: prices,
//! bars in server time, orders (market fills at once; limit and stop rest until the price
//! reaches them), fills of resting orders with sequence numbers, positions, and the switches
//! for a bad token, a disconnected terminal and slow answers.

use std::collections::HashMap;
use std::time::Duration;

use axia_adapters::csv_import::SourceTz;
use chrono::{NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::FakeBar;
use super::server::Request;

/// How server times are written.
const TIME: &str = "%Y-%m-%dT%H:%M:%S%.3f";

/// What the fake did with one client order id.
#[derive(Debug, Clone)]
struct FakeOrder {
    /// The request fields that must match on a repeat.
    request: Value,
    ticket: u64,
    symbol: String,
    buy: bool,
    kind: String,
    volume: Decimal,
    price: Option<Decimal>,
    fill: Option<FillInfo>,
}

#[derive(Debug, Clone)]
struct FillInfo {
    fill_id: u64,
    price: Decimal,
    time: NaiveDateTime,
    /// The fill's sequence number when it filled a resting order.
    seq: Option<u64>,
}

/// The whole state behind the fake's lock.
#[derive(Debug)]
pub(super) struct Book {
    token: String,
    server_tz: SourceTz,
    pub(super) connected: bool,
    pub(super) delay: Duration,
    pub(super) order_delay: Duration,
    /// Close the connection instead of answering `POST /orders` (after executing it).
    pub(super) drop_order_answers: bool,
    prices: HashMap<String, Decimal>,
    bars: HashMap<(String, String), Vec<FakeBar>>,
    orders: HashMap<String, FakeOrder>,
    /// Resting order ids, oldest first.
    resting: Vec<String>,
    next_id: u64,
    next_seq: u64,
    pub(super) requests: Vec<Request>,
}

type Answer = (u16, Value);

fn error(status: u16, code: &str, message: impl Into<String>, retcode: Option<i64>) -> Answer {
    let mut e = json!({"code": code, "message": message.into()});
    if let Some(r) = retcode {
        e["retcode"] = json!(r);
    }
    (status, json!({ "error": e }))
}

impl Book {
    pub(super) fn new(token: &str, server_tz: SourceTz) -> Self {
        Self {
            token: token.to_owned(),
            server_tz,
            connected: true,
            delay: Duration::ZERO,
            order_delay: Duration::ZERO,
            drop_order_answers: false,
            prices: HashMap::new(),
            bars: HashMap::new(),
            orders: HashMap::new(),
            resting: Vec::new(),
            next_id: 1000,
            next_seq: 1,
            requests: Vec::new(),
        }
    }

    /// How long to hold the answer to `request`.
    pub(super) fn delay_for(&self, request: &Request) -> Duration {
        if is_post_order(request) { self.delay.max(self.order_delay) } else { self.delay }
    }

    /// Whether to close the connection instead of answering `request`.
    pub(super) fn drops(&self, request: &Request) -> bool {
        self.drop_order_answers && is_post_order(request)
    }

    pub(super) fn add_bars(&mut self, symbol: &str, timeframe: &str, bars: Vec<FakeBar>) {
        let list = self.bars.entry((symbol.to_owned(), timeframe.to_owned())).or_default();
        list.extend(bars);
        list.sort_by_key(|b| b.time);
    }

    /// The server clock now, to the millisecond.
    fn now(&self) -> NaiveDateTime {
        let t = self.server_tz.from_utc(Utc::now());
        t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(t)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Makes `price` the quote of `symbol` and fills the resting orders it reaches, oldest first.
    pub(super) fn set_price(&mut self, symbol: &str, price: Decimal) {
        self.prices.insert(symbol.to_owned(), price);
        let now = self.now();
        for id in self.resting.clone() {
            let Some(o) = self.orders.get(&id) else { continue };
            if o.symbol != symbol || !reached(o, price) {
                continue;
            }
            let fill = FillInfo { fill_id: self.id(), price, time: now, seq: Some(self.next_seq) };
            self.next_seq += 1;
            if let Some(o) = self.orders.get_mut(&id) {
                o.fill = Some(fill);
            }
            self.resting.retain(|r| *r != id);
        }
    }

    pub(super) fn handle(&mut self, request: &Request) -> Answer {
        self.requests.push(request.clone());
        if request.authorization.as_deref() != Some(format!("Bearer {}", self.token).as_str()) {
            return error(401, "unauthorized", "missing or wrong bearer token", None);
        }
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        if request.method == "GET" && segments == ["health"] {
            let now = self.now();
            let offset = self.server_tz.offset_seconds_at(self.server_tz.to_utc(now));
            return (
                200,
                json!({"status": "ok", "terminal_connected": self.connected, "server": "FakeBroker-Demo",
                       "server_time": now.format(TIME).to_string(), "server_utc_offset_seconds": offset}),
            );
        }
        if !self.connected {
            return error(503, "terminal_disconnected", "the terminal is not connected to its trade server", None);
        }
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["bars"]) => self.bars(request),
            ("GET", ["account"]) => (
                200,
                json!({"login": 5_001_234, "currency": "USD", "balance": "10000.00", "equity": "10000.00",
                       "margin": "0.00", "free_margin": "10000.00", "leverage": 100}),
            ),
            ("GET", ["positions"]) => (200, json!({ "positions": self.positions() })),
            ("GET", ["fills"]) => self.fills(request),
            ("GET", ["orders", id]) => match self.orders.get(*id) {
                Some(o) => (200, order_json(id, o)),
                None => error(404, "unknown_order", format!("no order with client_order_id {id}"), None),
            },
            ("POST", ["orders"]) => self.place(&request.body),
            _ => error(404, "not_found", format!("no endpoint {} /{}", request.method, segments.join("/")), None),
        }
    }

    fn bars(&self, request: &Request) -> Answer {
        let (Some(symbol), Some(tf), Some(from), Some(to)) =
            (request.param("symbol"), request.param("timeframe"), request.param("from"), request.param("to"))
        else {
            return error(400, "invalid_request", "symbol, timeframe, from and to are required", None);
        };
        let parse = |t: &str| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f");
        let (Ok(from), Ok(to)) = (parse(from), parse(to)) else {
            return error(400, "invalid_request", "from and to must be server times such as 2025-09-01T10:00:00", None);
        };
        let known = self.prices.contains_key(symbol) || self.bars.keys().any(|(s, _)| s == symbol);
        if !known {
            return error(404, "unknown_symbol", format!("unknown symbol {symbol}"), None);
        }
        let bars: Vec<Value> = self
            .bars
            .get(&(symbol.to_owned(), tf.to_owned()))
            .into_iter()
            .flatten()
            .filter(|b| b.time >= from && b.time < to)
            .map(|b| {
                json!({"time": b.time.format(TIME).to_string(), "open": b.open, "high": b.high, "low": b.low,
                       "close": b.close, "tick_volume": b.tick_volume, "real_volume": 0, "spread": 1})
            })
            .collect();
        (200, json!({"symbol": symbol, "timeframe": tf, "bars": bars}))
    }

    fn fills(&self, request: &Request) -> Answer {
        let Some(Ok(after)) = request.param("after").map(str::parse::<u64>) else {
            return error(400, "invalid_request", "after must be a sequence number", None);
        };
        let mut fills: Vec<(u64, Value)> = self
            .orders
            .iter()
            .filter_map(|(id, o)| {
                let f = o.fill.as_ref()?;
                let seq = f.seq.filter(|s| *s > after)?;
                Some((
                    seq,
                    json!({"seq": seq, "client_order_id": id, "ticket": o.ticket, "fill_id": f.fill_id,
                           "volume": o.volume.to_string(), "price": f.price.to_string(),
                           "time": f.time.format(TIME).to_string()}),
                ))
            })
            .collect();
        fills.sort_by_key(|(seq, _)| *seq);
        let last = fills.last().map_or(after, |(s, _)| *s);
        (200, json!({"fills": fills.into_iter().map(|(_, f)| f).collect::<Vec<_>>(), "last_seq": last}))
    }

    fn positions(&self) -> Vec<Value> {
        let mut filled: Vec<(&String, &FakeOrder, &FillInfo)> =
            self.orders.iter().filter_map(|(id, o)| o.fill.as_ref().map(|f| (id, o, f))).collect();
        filled.sort_by_key(|(_, o, _)| o.ticket);
        filled
            .into_iter()
            .map(|(id, o, f)| {
                json!({"ticket": o.ticket, "symbol": o.symbol, "side": if o.buy { "buy" } else { "sell" },
                       "volume": o.volume.to_string(), "price_open": f.price.to_string(), "sl": null, "tp": null,
                       "time": f.time.format(TIME).to_string(), "profit": "0.00", "client_order_id": id})
            })
            .collect()
    }

    fn place(&mut self, body: &[u8]) -> Answer {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return error(400, "invalid_request", "the body is not JSON", None);
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(id), Some(symbol), Some(side), Some(kind)) =
            (text("client_order_id"), text("symbol"), text("side"), text("type"))
        else {
            return error(400, "invalid_request", "client_order_id, symbol, side and type are required", None);
        };
        let request = json!({"symbol": symbol, "side": side, "type": kind, "volume": v.get("volume"),
                             "price": v.get("price"), "sl": v.get("sl"), "tp": v.get("tp")});
        if let Some(o) = self.orders.get(&id) {
            return if o.request == request {
                (200, order_json(&id, o))
            } else {
                error(409, "client_order_id_conflict", format!("client_order_id {id} was used for another order"), None)
            };
        }
        let decimal = |k: &str| text(k).map(|s| s.parse::<Decimal>());
        let volume = match decimal("volume") {
            Some(Ok(vol)) if vol > Decimal::ZERO => vol,
            _ => return error(422, "invalid_volume", "volume must be a positive decimal string", Some(10014)),
        };
        let price = match decimal("price") {
            None => None,
            Some(Ok(p)) if p > Decimal::ZERO => Some(p),
            Some(_) => return error(422, "invalid_price", "price must be a positive decimal string", Some(10015)),
        };
        let buy = match side.as_str() {
            "buy" => true,
            "sell" => false,
            _ => return error(400, "invalid_request", format!("side {side:?} is not buy or sell"), None),
        };
        match (kind.as_str(), price) {
            ("market", None) | ("limit" | "stop", Some(_)) => {}
            _ => return error(422, "invalid_price", format!("a {kind} order with price {price:?}"), Some(10015)),
        }
        let Some(&market) = self.prices.get(&symbol) else {
            return error(404, "unknown_symbol", format!("unknown symbol {symbol}"), Some(10013));
        };
        let ticket = self.id();
        let mut order = FakeOrder { request, ticket, symbol, buy, kind, volume, price, fill: None };
        if reached(&order, market) {
            order.fill = Some(FillInfo { fill_id: self.id(), price: market, time: self.now(), seq: None });
        } else {
            self.resting.push(id.clone());
        }
        let answer = order_json(&id, &order);
        self.orders.insert(id, order);
        (200, answer)
    }
}

fn is_post_order(request: &Request) -> bool {
    request.method == "POST" && request.segments == ["orders"]
}

/// Whether `price` fills `o`: a market order always, a limit at or better than its price, a
/// stop once traded through.
fn reached(o: &FakeOrder, price: Decimal) -> bool {
    match (o.kind.as_str(), o.price) {
        ("limit", Some(limit)) => {
            if o.buy {
                price <= limit
            } else {
                price >= limit
            }
        }
        ("stop", Some(stop)) => {
            if o.buy {
                price >= stop
            } else {
                price <= stop
            }
        }
        _ => true,
    }
}

fn order_json(id: &str, o: &FakeOrder) -> Value {
    match &o.fill {
        Some(f) => json!({"status": "filled", "client_order_id": id, "ticket": o.ticket, "fill_id": f.fill_id,
                          "volume": o.volume.to_string(), "price": f.price.to_string(),
                          "time": f.time.format(TIME).to_string()}),
        None => json!({"status": "placed", "client_order_id": id, "ticket": o.ticket}),
    }
}
