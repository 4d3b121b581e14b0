//! Positions (seed 003 §3.8.2): what an executed order leaves open in the market.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::order::{OrderError, Side};
use crate::symbol::Symbol;

/// Whether a position is still in the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PositionStatus {
    /// In the market.
    Open,
    /// Closed; its realized PnL is final.
    Closed,
}

impl PositionStatus {
    /// `OPEN` or `CLOSED`, the stored form.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Closed => "CLOSED",
        }
    }
}

impl fmt::Display for PositionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PositionStatus {
    type Err = OrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "OPEN" => Ok(Self::Open),
            "CLOSED" => Ok(Self::Closed),
            other => Err(OrderError::Invalid { field: "position status", detail: format!("unknown status {other:?}") }),
        }
    }
}

/// Breakeven handling of a position: once price moved `trigger` in favour, the stop moves to entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Breakeven {
    /// Distance in price units that arms the breakeven stop (`None`: disabled).
    pub trigger: Option<Decimal>,
    /// Whether the stop has been moved to entry.
    pub applied: bool,
}

/// Scaling-in ("add position") settings and progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AddPosition {
    /// How many additions are allowed.
    pub max_levels: u32,
    /// How many have been made.
    pub level: u32,
}

/// An open or closed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Unique id of the position.
    pub position_id: String,
    /// The trade (fill) that opened it.
    pub trade_id: String,
    /// Signal that led to it.
    pub signal_id: Option<String>,
    /// Strategy that owns it.
    pub strategy_id: Option<String>,
    /// Instrument.
    pub symbol: Symbol,
    /// Long (buy) or short (sell).
    pub side: Side,
    /// Open or closed.
    pub status: PositionStatus,
    /// Average entry price.
    pub entry_price: Decimal,
    /// Latest known market price.
    pub current_price: Decimal,
    /// Size (> 0 while open).
    pub size: Decimal,
    /// Protective stop.
    pub stop_loss: Option<Decimal>,
    /// Profit target.
    pub take_profit: Option<Decimal>,
    /// Trailing stop distance.
    pub trailing_stop_distance: Option<Decimal>,
    /// Scaling-in settings.
    pub add_position: AddPosition,
    /// Breakeven settings.
    pub breakeven: Breakeven,
    /// Mark-to-market PnL of the open size.
    pub unrealized_pnl: Decimal,
    /// PnL realized by reductions and the close.
    pub realized_pnl: Decimal,
    /// Optimistic-locking version (0 before the first store).
    pub version: u64,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl Position {
    /// Opens a position of `size` at `price`.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] when size or price is not positive.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        position_id: impl Into<String>,
        trade_id: impl Into<String>,
        symbol: Symbol,
        side: Side,
        size: Decimal,
        price: Decimal,
        now: DateTime<Utc>,
    ) -> Result<Self, OrderError> {
        if size <= Decimal::ZERO {
            return Err(OrderError::Invalid { field: "position size", detail: format!("{size} must be > 0") });
        }
        if price <= Decimal::ZERO {
            return Err(OrderError::Invalid { field: "entry price", detail: format!("{price} must be > 0") });
        }
        Ok(Self {
            position_id: position_id.into(),
            trade_id: trade_id.into(),
            signal_id: None,
            strategy_id: None,
            symbol,
            side,
            status: PositionStatus::Open,
            entry_price: price,
            current_price: price,
            size,
            stop_loss: None,
            take_profit: None,
            trailing_stop_distance: None,
            add_position: AddPosition::default(),
            breakeven: Breakeven::default(),
            unrealized_pnl: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
            version: 0,
            opened_at: now,
            updated_at: now,
            closed_at: None,
        })
    }

    /// True while in the market.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.status == PositionStatus::Open
    }

    /// The signed size: positive long, negative short, zero when closed.
    #[must_use]
    pub fn signed_size(&self) -> Decimal {
        if self.is_open() { self.side.sign() * self.size } else { Decimal::ZERO }
    }

    fn pnl_at(&self, price: Decimal, size: Decimal) -> Decimal {
        self.side.sign() * (price - self.entry_price) * size
    }

    /// Marks the position to `price`, updating the unrealized PnL and the trailing stop.
    pub fn mark(&mut self, price: Decimal, now: DateTime<Utc>) {
        self.current_price = price;
        self.unrealized_pnl = if self.is_open() { self.pnl_at(price, self.size) } else { Decimal::ZERO };
        if let (Some(distance), true) = (self.trailing_stop_distance, self.is_open()) {
            let candidate = price - self.side.sign() * distance;
            let better = match (self.side, self.stop_loss) {
                (_, None) => true,
                (Side::Buy, Some(sl)) => candidate > sl,
                (Side::Sell, Some(sl)) => candidate < sl,
            };
            if better {
                self.stop_loss = Some(candidate);
            }
        }
        if let (Some(trigger), false) = (self.breakeven.trigger, self.breakeven.applied)
            && self.side.sign() * (price - self.entry_price) >= trigger
        {
            self.stop_loss = Some(self.entry_price);
            self.breakeven.applied = true;
        }
        self.updated_at = now;
    }

    /// Adds `size` at `price` in the position's direction (averaging the entry).
    ///
    /// # Errors
    /// [`OrderError::Invalid`] when the position is closed or the size is not positive.
    pub fn increase(&mut self, size: Decimal, price: Decimal, now: DateTime<Utc>) -> Result<(), OrderError> {
        self.ensure_open()?;
        if size <= Decimal::ZERO {
            return Err(OrderError::Invalid { field: "size", detail: format!("{size} must be > 0") });
        }
        let total = self.size + size;
        self.entry_price = (self.entry_price * self.size + price * size) / total;
        self.size = total;
        self.add_position.level += 1;
        self.mark(price, now);
        Ok(())
    }

    /// Reduces the position by `size` at `price`, realizing PnL; closes it when nothing is left.
    /// Returns the PnL realized by this reduction.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] when the position is closed or `size` is not in `(0, size]`.
    pub fn reduce(&mut self, size: Decimal, price: Decimal, now: DateTime<Utc>) -> Result<Decimal, OrderError> {
        self.ensure_open()?;
        if size <= Decimal::ZERO || size > self.size {
            return Err(OrderError::Invalid {
                field: "size",
                detail: format!("{size} is not within (0, {}]", self.size),
            });
        }
        let realized = self.pnl_at(price, size);
        self.realized_pnl += realized;
        self.size -= size;
        if self.size.is_zero() {
            self.status = PositionStatus::Closed;
            self.closed_at = Some(now);
        }
        self.mark(price, now);
        Ok(realized)
    }

    /// Closes the whole position at `price`; returns the PnL realized.
    ///
    /// # Errors
    /// [`OrderError::Invalid`] when already closed.
    pub fn close(&mut self, price: Decimal, now: DateTime<Utc>) -> Result<Decimal, OrderError> {
        self.reduce(self.size, price, now)
    }

    /// Whether a bar with this `high`/`low` hits the stop loss or take profit; returns the exit
    /// price (the stop wins when both are hit inside one bar: the conservative assumption).
    #[must_use]
    pub fn exit_hit(&self, high: Decimal, low: Decimal) -> Option<Decimal> {
        if !self.is_open() {
            return None;
        }
        let (stop_hit, target_hit) = match self.side {
            Side::Buy => (self.stop_loss.filter(|sl| low <= *sl), self.take_profit.filter(|tp| high >= *tp)),
            Side::Sell => (self.stop_loss.filter(|sl| high >= *sl), self.take_profit.filter(|tp| low <= *tp)),
        };
        stop_hit.or(target_hit)
    }

    fn ensure_open(&self) -> Result<(), OrderError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(OrderError::Invalid { field: "position", detail: format!("{} is closed", self.position_id) })
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal literal")
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap()
    }

    fn long() -> Position {
        Position::open("P1", "T1", Symbol::new("EURUSD").unwrap(), Side::Buy, d("2"), d("1.1000"), t0()).unwrap()
    }

    #[test]
    fn marking_a_long_gives_signed_pnl() {
        let mut p = long();
        p.mark(d("1.1050"), t0());
        assert_eq!(p.unrealized_pnl, d("0.0100"));
        p.mark(d("1.0950"), t0());
        assert_eq!(p.unrealized_pnl, d("-0.0100"));
    }

    #[test]
    fn reducing_realizes_and_closing_finishes() {
        let mut p = long();
        assert_eq!(p.reduce(d("1"), d("1.1100"), t0()).unwrap(), d("0.0100"));
        assert!(p.is_open());
        assert_eq!(p.close(d("1.0900"), t0()).unwrap(), d("-0.0100"));
        assert_eq!(p.status, PositionStatus::Closed);
        assert_eq!(p.realized_pnl, Decimal::ZERO);
        assert!(p.close(d("1.1"), t0()).is_err());
    }

    #[test]
    fn increase_averages_entry() {
        let mut p = long();
        p.increase(d("2"), d("1.2000"), t0()).unwrap();
        assert_eq!(p.entry_price, d("1.1500"));
        assert_eq!(p.size, d("4"));
        assert_eq!(p.add_position.level, 1);
    }

    #[test]
    fn trailing_stop_only_ratchets_in_favour() {
        let mut p = long();
        p.trailing_stop_distance = Some(d("0.0050"));
        p.mark(d("1.1100"), t0());
        assert_eq!(p.stop_loss, Some(d("1.1050")));
        p.mark(d("1.1000"), t0());
        assert_eq!(p.stop_loss, Some(d("1.1050")));
        assert_eq!(p.exit_hit(d("1.1010"), d("1.1040")), Some(d("1.1050")));
    }

    #[test]
    fn stop_wins_when_both_hit_and_short_is_mirrored() {
        let mut p =
            Position::open("P2", "T2", Symbol::new("USDJPY").unwrap(), Side::Sell, d("1"), d("150"), t0()).unwrap();
        p.stop_loss = Some(d("151"));
        p.take_profit = Some(d("149"));
        assert_eq!(p.exit_hit(d("151.5"), d("148.5")), Some(d("151")));
        assert_eq!(p.exit_hit(d("150.5"), d("148.9")), Some(d("149")));
        assert_eq!(p.exit_hit(d("150.5"), d("149.5")), None);
    }

    #[test]
    fn breakeven_moves_stop_to_entry_once() {
        let mut p = long();
        p.breakeven.trigger = Some(d("0.0030"));
        p.mark(d("1.1040"), t0());
        assert_eq!(p.stop_loss, Some(d("1.1000")));
        assert!(p.breakeven.applied);
    }
}
