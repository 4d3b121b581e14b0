//! [`Mt5Bridge`]: bars and order execution through an MT5 bridge, a small HTTP/JSON proxy that
//! runs next to a MetaTrader 5 terminal (MT5 is Windows-only). The protocol is
//! `docs/mt5-bridge.md`; the choices behind it are ADR 0013.
//!
//! # Time
//! The bridge speaks the MT5 *server* clock, wall times without an offset (as
//! `copy_rates_range` gives them). The client converts at the boundary with the configured
//! [`SourceTz`]: a UTC range is sent as server times, and every server time received (bar open
//! times, fill times) is read back as UTC with [`SourceTz::to_utc`] (an ambiguous wall time maps
//! to its earlier instant; on the New York close clock such times fall on a Sunday morning, when
//! FX does not trade).
//!
//! # Token
//! The token is sent as `Authorization: Bearer <token>` (a header marked sensitive) on every
//! request. [`BridgeToken`] prints as `***`, the client's `Debug` does not show it, and every
//! message that comes from the bridge or the HTTP stack is scrubbed of it.
//!
//! # Connection status
//! Every request updates [`Mt5Bridge::connection_status`]: connected when the bridge answered
//! with a working terminal, disconnected on a network failure, a timeout, 401, 503 or another
//! 5xx.

mod broker;
mod error;
mod http;
mod source;
mod status;
mod token;
mod wire;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axia_domain::ports::Execution;
use axia_domain::{ClientOrderId, Clock, Side, Symbol, SystemClock};
use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Url;
use reqwest::header::HeaderValue;
use rust_decimal::Decimal;

use crate::csv_import::SourceTz;

pub use error::Mt5BridgeError;
pub use status::ConnectionStatus;
pub use token::BridgeToken;

use http::Http;
use status::StatusTracker;
use wire::{AccountWire, FillsWire, HealthWire, PositionsWire};

/// The name of the adapter as a source and as a broker.
pub(crate) const SOURCE_NAME: &str = "mt5_bridge";

/// How to reach the bridge (`[sources.mt5_bridge]`).
#[derive(Debug, Clone)]
pub struct Mt5BridgeSettings {
    /// The base URL, e.g. `http://10.0.0.5:8787` (endpoints are appended to its path).
    pub url: String,
    /// The bearer token; `None` sends no `Authorization` header.
    pub token: Option<BridgeToken>,
    /// The timeout of each request, connection included.
    pub timeout: Duration,
    /// The clock of the MT5 server (often `ny-close`, or a fixed offset such as `+03:00`).
    pub server_tz: SourceTz,
}

/// The MT5 bridge client (see the [module documentation](self)).
pub struct Mt5Bridge {
    http: Http,
    server_tz: SourceTz,
    /// The sequence number of the last resting-order fill returned by [`Mt5Bridge::poll_fills`].
    fills_cursor: Mutex<u64>,
}

impl fmt::Debug for Mt5Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mt5Bridge")
            .field("url", &self.http.base.as_str())
            .field("token", &self.http.token)
            .field("timeout", &self.http.timeout)
            .field("server_tz", &self.server_tz)
            .finish_non_exhaustive()
    }
}

/// What `GET /health` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeHealth {
    /// `ok` when the bridge works.
    pub status: String,
    /// Whether the terminal is connected to its trade server.
    pub terminal_connected: bool,
    /// The trade server's name.
    pub server: String,
    /// The server's clock now (wall time).
    pub server_time: NaiveDateTime,
    /// `server_time` read with the configured clock.
    pub server_time_utc: DateTime<Utc>,
    /// The server's offset from UTC as the bridge reports it, in seconds.
    pub server_utc_offset_seconds: i64,
    /// The configured clock's offset at `server_time_utc`; differs from the reported one when
    /// `server_tz` is wrong.
    pub configured_utc_offset_seconds: i64,
}

/// What `GET /account` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeAccount {
    /// The account number, when the bridge tells.
    pub login: Option<String>,
    /// The deposit currency.
    pub currency: String,
    /// Balance.
    pub balance: Decimal,
    /// Equity.
    pub equity: Decimal,
    /// Margin in use.
    pub margin: Decimal,
    /// Free margin, when the bridge tells.
    pub free_margin: Option<Decimal>,
    /// Leverage (100 for 1:100).
    pub leverage: u32,
}

/// An open position at the broker (`GET /positions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgePosition {
    /// The position ticket.
    pub ticket: String,
    /// The symbol.
    pub symbol: Symbol,
    /// Long (buy) or short (sell).
    pub side: Side,
    /// Volume in lots.
    pub volume: Decimal,
    /// Open price.
    pub price_open: Decimal,
    /// Stop loss.
    pub stop_loss: Option<Decimal>,
    /// Take profit.
    pub take_profit: Option<Decimal>,
    /// When it opened (UTC).
    pub opened_at: DateTime<Utc>,
    /// Floating profit, in the deposit currency.
    pub profit: Option<Decimal>,
    /// The client order id that opened it, when the bridge knows.
    pub client_order_id: Option<String>,
}

/// A fill of a resting (limit or stop) order, from `GET /fills`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeFill {
    /// The bridge's sequence number of the fill (increasing).
    pub seq: u64,
    /// The order's idempotency key.
    pub client_order_id: ClientOrderId,
    /// The ticket [`Execution::Working`] returned for the order.
    pub broker_order_id: String,
    /// The fill ([`Execution::Filled`]), as `execute` of the same order now returns it.
    pub execution: Execution,
}

impl Mt5Bridge {
    /// A client of the bridge at `settings.url`. Sends nothing yet.
    ///
    /// # Errors
    /// [`Mt5BridgeError::Settings`] for a URL that is not `http(s)://…` without query, a zero
    /// timeout or a token that cannot be a header value.
    pub fn new(settings: Mt5BridgeSettings) -> Result<Self, Mt5BridgeError> {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    /// As [`Mt5Bridge::new`], with the clock that stamps [`ConnectionStatus::last_change`].
    ///
    /// # Errors
    /// As [`Mt5Bridge::new`].
    pub fn with_clock(settings: Mt5BridgeSettings, clock: Arc<dyn Clock>) -> Result<Self, Mt5BridgeError> {
        let invalid = |detail: String| Mt5BridgeError::Settings { detail };
        let base = Url::parse(settings.url.trim())
            .map_err(|e| invalid(format!("url {:?}: {e} (expected e.g. http://127.0.0.1:8787)", settings.url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() || base.query().is_some() {
            return Err(invalid(format!("url {:?} must be http:// or https:// without a query", settings.url)));
        }
        if settings.timeout.is_zero() {
            return Err(invalid("timeout must be greater than 0".into()));
        }
        let token = settings.token.filter(|t| !t.expose().is_empty());
        let auth = token
            .as_ref()
            .map(|t| {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                    .map_err(|_| invalid("the token holds characters a header cannot carry".into()))?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        let http = Http { client, base, token, auth, timeout: settings.timeout, status: StatusTracker::new(clock) };
        Ok(Self { http, server_tz: settings.server_tz, fills_cursor: Mutex::new(0) })
    }

    /// The connection state seen by the last request.
    #[must_use]
    pub fn connection_status(&self) -> ConnectionStatus {
        self.http.status.get()
    }

    /// The configured server clock.
    #[must_use]
    pub const fn server_tz(&self) -> SourceTz {
        self.server_tz
    }

    /// `GET /health`. A terminal that is not connected marks the connection down. A reported
    /// server offset that differs from the configured clock's is logged as a warning.
    ///
    /// # Errors
    /// Any [`Mt5BridgeError`]; [`Mt5BridgeError::InvalidResponse`] for a bad server time.
    pub async fn health(&self) -> Result<BridgeHealth, Mt5BridgeError> {
        let wire: HealthWire = self.http.get(&["health"], &[]).await?;
        let server_time = self.server_time(&wire.server_time)?;
        let server_time_utc = self.server_tz.to_utc(server_time);
        let configured = self.server_tz.offset_seconds_at(server_time_utc);
        if !wire.terminal_connected {
            self.http.status.record(Err("the bridge reports its terminal disconnected"));
        }
        if configured != wire.server_utc_offset_seconds {
            tracing::warn!(
                source = SOURCE_NAME,
                configured_tz = %self.server_tz,
                configured_offset_seconds = configured,
                reported_offset_seconds = wire.server_utc_offset_seconds,
                "the bridge reports another server UTC offset than server_tz gives: bar times may be shifted"
            );
        }
        Ok(BridgeHealth {
            status: wire.status,
            terminal_connected: wire.terminal_connected,
            server: wire.server,
            server_time,
            server_time_utc,
            server_utc_offset_seconds: wire.server_utc_offset_seconds,
            configured_utc_offset_seconds: configured,
        })
    }

    /// `GET /account`.
    ///
    /// # Errors
    /// Any [`Mt5BridgeError`].
    pub async fn account(&self) -> Result<BridgeAccount, Mt5BridgeError> {
        let w: AccountWire = self.http.get(&["account"], &[]).await?;
        Ok(BridgeAccount {
            login: w.login,
            currency: w.currency,
            balance: w.balance,
            equity: w.equity,
            margin: w.margin,
            free_margin: w.free_margin,
            leverage: w.leverage,
        })
    }

    /// `GET /positions`.
    ///
    /// # Errors
    /// Any [`Mt5BridgeError`]; [`Mt5BridgeError::InvalidResponse`] for a bad symbol, side or time.
    pub async fn positions(&self) -> Result<Vec<BridgePosition>, Mt5BridgeError> {
        let w: PositionsWire = self.http.get(&["positions"], &[]).await?;
        w.positions
            .into_iter()
            .map(|p| {
                let invalid = |detail: String| Mt5BridgeError::InvalidResponse { detail };
                let symbol = Symbol::new(&p.symbol).map_err(|e| invalid(format!("position {}: {e}", p.ticket)))?;
                let side = p.side.parse::<Side>().map_err(|e| invalid(format!("position {}: {e}", p.ticket)))?;
                Ok(BridgePosition {
                    opened_at: self.server_tz.to_utc(self.server_time(&p.time)?),
                    ticket: p.ticket,
                    symbol,
                    side,
                    volume: p.volume,
                    price_open: p.price_open,
                    stop_loss: p.sl,
                    take_profit: p.tp,
                    profit: p.profit,
                    client_order_id: p.client_order_id,
                })
            })
            .collect()
    }

    /// `GET /fills?after=<seq>`: the fills of resting orders with a sequence number above
    /// `after`, oldest first.
    ///
    /// # Errors
    /// Any [`Mt5BridgeError`].
    pub async fn fills_after(&self, after: u64) -> Result<Vec<BridgeFill>, Mt5BridgeError> {
        let w: FillsWire = self.http.get(&["fills"], &[("after", after.to_string())]).await?;
        let mut fills = Vec::with_capacity(w.fills.len());
        for f in w.fills {
            let invalid = |detail: String| Mt5BridgeError::InvalidResponse { detail };
            let client_order_id =
                ClientOrderId::new(&f.client_order_id).map_err(|e| invalid(format!("fill {}: {e}", f.seq)))?;
            if f.seq <= after {
                return Err(invalid(format!("fill {} is not after {after}", f.seq)));
            }
            let at = self.server_tz.to_utc(self.server_time(&f.time)?);
            fills.push(BridgeFill {
                seq: f.seq,
                client_order_id,
                broker_order_id: f.ticket,
                execution: Execution::Filled { fill_id: f.fill_id, quantity: f.volume, price: f.price, at },
            });
        }
        Ok(fills)
    }

    /// The resting-order fills since the last successful call (all the bridge remembers on the
    /// first call): [`Mt5Bridge::fills_after`] with a cursor kept by the client. Recording them
    /// is idempotent (`ProcessOrder::record_resting_fill`), so a replay after a restart is safe.
    ///
    /// # Errors
    /// As [`Mt5Bridge::fills_after`]; the cursor then stays where it was.
    pub async fn poll_fills(&self) -> Result<Vec<BridgeFill>, Mt5BridgeError> {
        let after = *self.fills_cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let fills = self.fills_after(after).await?;
        if let Some(last) = fills.iter().map(|f| f.seq).max() {
            let mut cursor = self.fills_cursor.lock().unwrap_or_else(PoisonError::into_inner);
            *cursor = (*cursor).max(last);
        }
        Ok(fills)
    }

    fn server_time(&self, text: &str) -> Result<NaiveDateTime, Mt5BridgeError> {
        wire::parse_server_time(text).map_err(|detail| Mt5BridgeError::InvalidResponse { detail })
    }
}

#[cfg(test)]
mod tests;
