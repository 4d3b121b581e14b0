//! The trading state (kill switch): `Active`, `ReduceOnly` or `Halted`, audited and fail-closed.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::order::Side;

/// What the order processor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Every valid order may execute.
    Active,
    /// Only orders that reduce exposure may execute.
    ReduceOnly,
    /// Nothing executes.
    Halted,
}

impl TradingState {
    /// The snake-case name (`active`, `reduce_only`, `halted`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ReduceOnly => "reduce_only",
            Self::Halted => "halted",
        }
    }

    /// Whether an order of `side` and `quantity` may execute against a current signed
    /// position of `net_position` (positive long, negative short).
    #[must_use]
    pub fn permits(self, side: Side, quantity: Decimal, net_position: Decimal) -> bool {
        match self {
            Self::Active => true,
            Self::Halted => false,
            Self::ReduceOnly => reduces_exposure(side, quantity, net_position),
        }
    }
}

impl fmt::Display for TradingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TradingState {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "active" => Ok(Self::Active),
            "reduce_only" | "reducing" => Ok(Self::ReduceOnly),
            "halted" => Ok(Self::Halted),
            other => {
                Err(DomainError::InvalidValue { field: "trading state", detail: format!("unknown state {other:?}") })
            }
        }
    }
}

/// True when an order moves the net position strictly towards zero without crossing it.
#[must_use]
pub fn reduces_exposure(side: Side, quantity: Decimal, net_position: Decimal) -> bool {
    if quantity <= Decimal::ZERO || net_position.is_zero() {
        return false;
    }
    let after = net_position + side.sign() * quantity;
    after.abs() < net_position.abs() && (after.is_zero() || after.is_sign_positive() == net_position.is_sign_positive())
}

/// The stored kill-switch state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchState {
    /// Current state.
    pub state: TradingState,
    /// Why it was set.
    pub reason: String,
    /// Who set it (user, host or service).
    pub changed_by: String,
    /// When it was set.
    pub changed_at: DateTime<Utc>,
    /// Optimistic-locking version; each change increments it.
    pub version: u64,
}

impl KillSwitchState {
    /// The state a fresh installation starts in: active, version 1.
    #[must_use]
    pub fn initial(changed_by: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            state: TradingState::Active,
            reason: "initialised".into(),
            changed_by: changed_by.into(),
            changed_at: now,
            version: 1,
        }
    }

    /// The state used when the stored one cannot be read: halted, with the cause as reason.
    #[must_use]
    pub fn fail_closed(cause: impl fmt::Display, now: DateTime<Utc>) -> Self {
        Self {
            state: TradingState::Halted,
            reason: format!("fail-closed: kill switch state unreadable ({cause})"),
            changed_by: "axia".into(),
            changed_at: now,
            version: 0,
        }
    }

    /// Builds the next state and its audit record. `reason` must not be empty.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when the reason is blank.
    pub fn change(
        &self,
        to: TradingState,
        reason: impl Into<String>,
        changed_by: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<(Self, KillSwitchAudit), DomainError> {
        let reason = reason.into();
        if reason.trim().is_empty() {
            return Err(DomainError::InvalidValue {
                field: "reason",
                detail: "a kill-switch change needs a reason".into(),
            });
        }
        let next =
            Self { state: to, reason, changed_by: changed_by.into(), changed_at: now, version: self.version + 1 };
        let audit = KillSwitchAudit {
            previous: self.state,
            state: to,
            reason: next.reason.clone(),
            changed_by: next.changed_by.clone(),
            changed_at: now,
            version: next.version,
        };
        Ok((next, audit))
    }
}

/// One audited kill-switch change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchAudit {
    /// State before the change.
    pub previous: TradingState,
    /// State after the change.
    pub state: TradingState,
    /// Why.
    pub reason: String,
    /// Who.
    pub changed_by: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Version the change produced.
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(Side::Sell, "1", "2", true)]
    #[case(Side::Sell, "2", "2", true)]
    #[case(Side::Sell, "3", "2", false)]
    #[case(Side::Buy, "1", "2", false)]
    #[case(Side::Buy, "1", "-2", true)]
    #[case(Side::Buy, "1", "0", false)]
    fn reduce_only_accepts_only_reducing_orders(
        #[case] side: Side,
        #[case] qty: &str,
        #[case] net: &str,
        #[case] ok: bool,
    ) {
        let (qty, net): (Decimal, Decimal) = (qty.parse().unwrap(), net.parse().unwrap());
        assert_eq!(TradingState::ReduceOnly.permits(side, qty, net), ok);
        assert!(TradingState::Active.permits(side, qty, net));
        assert!(!TradingState::Halted.permits(side, qty, net));
    }

    #[test]
    fn change_bumps_version_and_audits_previous_state() {
        let now = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        let s = KillSwitchState::initial("ops", now);
        let (next, audit) = s.change(TradingState::Halted, "drawdown", "alice", now).unwrap();
        assert_eq!(next.version, 2);
        assert_eq!(audit.previous, TradingState::Active);
        assert_eq!(audit.state, TradingState::Halted);
        assert!(s.change(TradingState::Active, "  ", "bob", now).is_err());
    }

    #[test]
    fn fail_closed_is_halted() {
        let s = KillSwitchState::fail_closed("corrupt item", Utc::now());
        assert_eq!(s.state, TradingState::Halted);
        assert!(s.reason.contains("corrupt item"));
    }

    #[rstest]
    #[case("active", TradingState::Active)]
    #[case("reduce-only", TradingState::ReduceOnly)]
    #[case("HALTED", TradingState::Halted)]
    fn parses_state_names(#[case] text: &str, #[case] want: TradingState) {
        assert_eq!(text.parse::<TradingState>().unwrap(), want);
    }
}
