//! The axia domain model: bars, series, market calendars, orders, positions, trades, the kill
//! switch, and the ports through which the application reaches storage, sources, brokers and
//! queues.
//!
//! This crate does no I/O: it depends on no runtime, SDK or database crate.

pub mod bar;
pub mod calendar;
pub mod error;
pub mod events;
pub mod kill_switch;
pub mod order;
pub mod order_request;
pub mod ports;
pub mod position;
pub mod series;
pub mod symbol;
pub mod time;
pub mod timeframe;
pub mod trade;

pub use bar::{Bar, RawBar};
pub use calendar::MarketCalendar;
pub use error::{BarError, DomainError, SeriesError};
pub use events::SystemEvent;
pub use kill_switch::{KillSwitchAudit, KillSwitchState, TradingState};
pub use order::{ClientOrderId, Order, OrderError, OrderSpec, OrderStatus, OrderType, Side};
pub use order_request::{MAX_ORDER_REQUEST_BYTES, OrderRequest, RequestError};
pub use position::{Position, PositionStatus};
pub use series::{Gap, MergeStats, OhlcvSeries, SeriesKey};
pub use symbol::Symbol;
pub use time::{Clock, FixedClock, SystemClock, TimeRange};
pub use timeframe::Timeframe;
pub use trade::Trade;
