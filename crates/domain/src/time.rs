//! Time ranges and the clock port.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeRange {
    /// Builds `[start, end)`.
    ///
    /// # Errors
    /// [`DomainError::InvalidRange`] when `end` is before `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, DomainError> {
        if end < start {
            return Err(DomainError::InvalidRange { detail: format!("end {end} is before start {start}") });
        }
        Ok(Self { start, end })
    }

    /// `[end - length, end)`.
    #[must_use]
    pub fn ending_at(end: DateTime<Utc>, length: TimeDelta) -> Self {
        let length = length.max(TimeDelta::zero());
        Self { start: end - length, end }
    }

    /// Inclusive start.
    #[must_use]
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// Exclusive end.
    #[must_use]
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`.
    #[must_use]
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }

    /// True when the range holds no instant.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// True when `t` lies in `[start, end)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// True when the two ranges share an instant.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The common part of two ranges, if any.
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Option<Self> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(Self { start, end })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

/// Port: the source of "now", so that retention, TTL and scheduling logic is testable.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; for tests, benchmarks and replays.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock frozen at `now`.
    #[must_use]
    pub const fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut guard = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn range_rules() {
        assert!(TimeRange::new(t(2), t(1)).is_err());
        let r = TimeRange::new(t(1), t(3)).unwrap();
        assert!(r.contains(t(1)) && r.contains(t(2)) && !r.contains(t(3)));
        let s = TimeRange::new(t(3), t(4)).unwrap();
        assert!(!r.overlaps(&s));
        assert_eq!(r.intersect(&TimeRange::new(t(2), t(5)).unwrap()), Some(TimeRange::new(t(2), t(3)).unwrap()));
        assert!(TimeRange::new(t(1), t(1)).unwrap().is_empty());
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(t(1));
        assert_eq!(c.now(), t(1));
        c.advance(TimeDelta::hours(2));
        assert_eq!(c.now(), t(3));
        c.set(t(0));
        assert_eq!(c.now(), t(0));
    }
}
