//! [`FakeMt5Bridge`]: an MT5 bridge that follows `docs/mt5-bridge.md`, served over real HTTP on
//! `127.0.0.1:0`, with an in-memory market. Tests run the real [`Mt5Bridge`] client against it.
//!
//! It keeps prices per symbol, bars in server time, orders (market orders fill at the price;
//! limit and stop orders rest until [`MarketControl::set_price`] reaches them), idempotency by
//! client order id, and the switches: a wrong token answers 401, [`FakeMt5Bridge::set_connected`]
//! `(false)` makes every endpoint but `/health` answer 503, and [`FakeMt5Bridge::set_delay`] /
//! [`FakeMt5Bridge::set_order_delay`] hold answers back (after acting on the request), and
//! [`FakeMt5Bridge::set_drop_order_answers`] cuts the connection instead of answering an order.
//!
//! As [`MarketControl`], `set_price` moves the price in memory and then reports the fills it
//! caused the way production does: through `GET /fills` with the client's
//! [`Mt5Bridge::poll_fills`] (a client of its own, so the cursor is the harness's).

mod book;
mod server;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axia_adapters::csv_import::SourceTz;
use axia_adapters::mt5_bridge::{BridgeToken, Mt5Bridge, Mt5BridgeSettings};
use axia_domain::Symbol;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use server::Request;

use crate::broker_contract::{MarketControl, RestingFill};
use book::Book;

/// One bar as the fake serves it, in server time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FakeBar {
    /// Open time on the server clock.
    pub time: NaiveDateTime,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Tick volume.
    pub tick_volume: u64,
}

/// The fake bridge; the server stops when it is dropped.
pub struct FakeMt5Bridge {
    url: String,
    token: String,
    server_tz: SourceTz,
    book: Arc<Mutex<Book>>,
    task: JoinHandle<()>,
    /// The harness's own client, for [`MarketControl::set_price`].
    fills: Mt5Bridge,
}

impl fmt::Debug for FakeMt5Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeMt5Bridge")
            .field("url", &self.url)
            .field("server_tz", &self.server_tz)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeMt5Bridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMt5Bridge {
    /// Starts a fake bridge that accepts `token` and keeps its clock on `server_tz`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(token: &str, server_tz: SourceTz) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port for the fake MT5 bridge");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let book = Arc::new(Mutex::new(Book::new(token, server_tz)));
        let task = tokio::spawn(server::serve(listener, book.clone()));
        let settings = Mt5BridgeSettings {
            url: url.clone(),
            token: Some(BridgeToken::new(token)),
            timeout: Duration::from_secs(10),
            server_tz,
        };
        let fills = Mt5Bridge::new(settings).expect("valid settings for the fake bridge");
        Self { url, token: token.to_owned(), server_tz, book, task, fills }
    }

    /// The base URL (`http://127.0.0.1:<port>`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Client settings that reach this fake with the right token and clock.
    #[must_use]
    pub fn settings(&self, timeout: Duration) -> Mt5BridgeSettings {
        Mt5BridgeSettings {
            url: self.url.clone(),
            token: Some(BridgeToken::new(self.token.clone())),
            timeout,
            server_tz: self.server_tz,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `price` the quote of `symbol` (which becomes known) and fills the resting orders it
    /// reaches, without reporting them.
    pub fn set_quote(&self, symbol: &str, price: Decimal) {
        self.lock().set_price(symbol, price);
    }

    /// Adds bars (server time) of `symbol` at `timeframe` (`M1`, `H1`, …); the symbol becomes
    /// known.
    pub fn add_bars(&self, symbol: &str, timeframe: &str, bars: Vec<FakeBar>) {
        self.lock().add_bars(symbol, timeframe, bars);
    }

    /// Connects or disconnects the terminal: disconnected, every endpoint but `/health` answers
    /// 503 `terminal_disconnected`.
    pub fn set_connected(&self, connected: bool) {
        self.lock().connected = connected;
    }

    /// Holds every answer back by `delay` (the request is acted on first).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Holds the answers of `POST /orders` back by `delay` (the order is executed first).
    pub fn set_order_delay(&self, delay: Duration) {
        self.lock().order_delay = delay;
    }

    /// Closes the connection instead of answering `POST /orders` (the order is executed first).
    pub fn set_drop_order_answers(&self, drop: bool) {
        self.lock().drop_order_answers = drop;
    }

    /// Every request received so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }
}

#[async_trait]
impl MarketControl for FakeMt5Bridge {
    /// # Panics
    /// When the fills cannot be read back over `GET /fills` (the fake is disconnected or slow).
    async fn set_price(&self, symbol: &Symbol, price: Decimal) -> Vec<RestingFill> {
        self.set_quote(symbol.as_str(), price);
        let fills = self.fills.poll_fills().await.unwrap_or_else(|e| panic!("fake bridge: GET /fills failed: {e}"));
        fills.into_iter().map(|f| RestingFill { broker_order_id: f.broker_order_id, execution: f.execution }).collect()
    }
}
