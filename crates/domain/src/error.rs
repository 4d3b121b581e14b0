//! Errors of the domain model itself (values, bars, series, orders).
//!
//! Errors of the ports live in [`crate::ports::errors`]; they say whether a retry can help.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::timeframe::Timeframe;

/// An invalid value given to the domain model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A symbol that does not follow the symbol rules.
    #[error("invalid symbol {symbol:?}: {reason}")]
    InvalidSymbol {
        /// The text given.
        symbol: String,
        /// Why it was refused.
        reason: String,
    },
    /// A timeframe name that axia does not know.
    #[error("unknown timeframe {timeframe:?} (expected one of M1 M5 M15 M30 H1 H4 D1 W1 MN1)")]
    InvalidTimeframe {
        /// The text given.
        timeframe: String,
    },
    /// A time range whose end precedes its start.
    #[error("invalid time range: {detail}")]
    InvalidRange {
        /// What is wrong.
        detail: String,
    },
    /// Any other field value that breaks a rule.
    #[error("invalid {field}: {detail}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// Why a bar was refused by [`crate::Bar::new`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BarError {
    /// A price is NaN or infinite.
    #[error("{field} is not a finite number ({value})")]
    NonFinite {
        /// Which price.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// The low price is zero or negative.
    #[error("low {low} is not positive")]
    NonPositive {
        /// The low given.
        low: f64,
    },
    /// The prices contradict each other.
    #[error("inconsistent prices: {detail}")]
    Inconsistent {
        /// Which rule is broken.
        detail: String,
    },
}

/// Why a series could not be built or transformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SeriesError {
    /// An open time that is not the open of a `timeframe` bar.
    #[error("bar at {time} is not aligned to {timeframe}")]
    Misaligned {
        /// The offending open time.
        time: DateTime<Utc>,
        /// The series timeframe.
        timeframe: Timeframe,
    },
    /// Two bars with the same open time.
    #[error("duplicate bar at {time}")]
    Duplicate {
        /// The repeated open time.
        time: DateTime<Utc>,
    },
    /// A bar whose open time precedes the bar before it.
    #[error("bar at {time} comes after a bar at {previous} (out of order)")]
    OutOfOrder {
        /// The earlier bar's time.
        previous: DateTime<Utc>,
        /// The offending bar's time.
        time: DateTime<Utc>,
    },
    /// Two series of different symbol or timeframe were combined.
    #[error("series mismatch: {detail}")]
    Mismatch {
        /// What differs.
        detail: String,
    },
    /// A resample that cannot be done exactly.
    #[error("cannot resample {from} to {to}: {to} bars are not made of whole {from} bars")]
    CannotResample {
        /// Source timeframe.
        from: Timeframe,
        /// Requested timeframe.
        to: Timeframe,
    },
}
