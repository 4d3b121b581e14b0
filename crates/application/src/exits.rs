//! [`ManageExits`]: what a new bar does to the open positions of its symbol — close them when it
//! reaches their stop loss or take profit, otherwise tighten their stops (trailing stop,
//! breakeven).
//!
//! # Rules, per open position and bar
//! 1. A bar that opened before the position did is ignored: its range may lie before the entry.
//! 2. **Exit.** The position closes when the bar reaches its stop loss (long: low ≤ stop; short:
//!    high ≥ stop) or its take profit (long: high ≥ target; short: low ≤ target). When one bar
//!    reaches both, the stop loss is assumed to have come first: the order of high and low
//!    inside a bar is unknown, and assuming the loss is the conservative choice. A stop fills at
//!    the stop, or at the open when the bar opened beyond it (a gap); a target fills at the
//!    target.
//! 3. **Tighten.** Otherwise the stop moves towards the market, never away from it: to the bar's
//!    best price (long: high, short: low) minus the trailing-stop distance, and to the entry
//!    price once the best price is the breakeven trigger away from it (once: the breakeven flag
//!    is set even when a trailing stop is already tighter). A stop tightened by a bar takes
//!    effect from the next bar on: whether the bar's low came before or after its high is
//!    unknown.
//! 4. Positions are written only when they change (closed, stop moved, breakeven armed), with
//!    the version they were read at. A [`RepositoryError::Conflict`] (someone else changed the
//!    position) re-reads the position and applies the bar to what is stored, once; a second
//!    failure is reported in the [`ExitReport`], never overwritten.
//!
//! Closing here changes the position only: the closing trade record needs a port that stores a
//! trade without an order, which the domain does not have yet.

use std::sync::Arc;

use axia_domain::ports::{PositionRepository, RepositoryError};
use axia_domain::{Bar, Clock, Position, Side, Symbol};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use thiserror::Error;

/// Why a position was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// The bar reached the stop loss (or a trailing / breakeven stop).
    StopLoss,
    /// The bar reached the take profit.
    TakeProfit,
}

/// What one bar did to one position.
#[derive(Debug, Clone, PartialEq)]
pub enum ExitOutcome {
    /// Nothing to change (or the position was closed by someone else meanwhile).
    Unchanged {
        /// The position.
        position_id: String,
    },
    /// The stop moved (trailing or breakeven); stored.
    StopMoved {
        /// The stored position.
        position: Position,
        /// The stop before the bar.
        from: Option<Decimal>,
    },
    /// The position closed; stored.
    Closed {
        /// The stored, closed position.
        position: Position,
        /// Stop loss or take profit.
        reason: ExitReason,
        /// The exit price.
        price: Decimal,
        /// The PnL this close realized.
        realized_pnl: Decimal,
    },
    /// The change could not be stored (after one re-read on a conflict); nothing was overwritten.
    Failed {
        /// The position.
        position_id: String,
        /// The last store error.
        error: RepositoryError,
    },
}

/// What one bar did to the open positions of its symbol, in the order they were listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExitReport {
    /// One outcome per open position.
    pub outcomes: Vec<ExitOutcome>,
}

impl ExitReport {
    /// The positions whose change could not be stored.
    #[must_use]
    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o, ExitOutcome::Failed { .. })).count()
    }
}

/// Why exits could not be managed at all.
#[derive(Debug, Error)]
pub enum ExitError {
    /// The open positions could not be listed.
    #[error("cannot list the open positions of {symbol}: {source}")]
    List {
        /// The symbol.
        symbol: Symbol,
        /// The store's error.
        #[source]
        source: RepositoryError,
    },
}

impl ExitError {
    /// Whether the same call may succeed later without anyone acting.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::List { source, .. } => source.is_retryable(),
        }
    }
}

/// The exit manager (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct ManageExits {
    positions: Arc<dyn PositionRepository>,
    clock: Arc<dyn Clock>,
}

/// What a bar means for one position, before anything is stored.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Keep,
    Tighten(Position),
    Close { position: Position, reason: ExitReason, price: Decimal, realized_pnl: Decimal },
}

impl ManageExits {
    /// An exit manager over `positions`, stamping changes with `clock`.
    #[must_use]
    pub fn new(positions: Arc<dyn PositionRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { positions, clock }
    }

    /// Applies `bar` (of `symbol`) to every open position of `symbol`.
    ///
    /// # Errors
    /// [`ExitError::List`] when the open positions cannot be read; failures to store one
    /// position are reported per position in the [`ExitReport`].
    pub async fn on_bar(&self, symbol: &Symbol, bar: &Bar) -> Result<ExitReport, ExitError> {
        let open = self
            .positions
            .list_open(Some(symbol.clone()))
            .await
            .map_err(|source| ExitError::List { symbol: symbol.clone(), source })?;
        let mut report = ExitReport::default();
        for position in open.iter().filter(|p| p.symbol == *symbol) {
            report.outcomes.push(self.apply(position, bar).await);
        }
        Ok(report)
    }

    async fn apply(&self, position: &Position, bar: &Bar) -> ExitOutcome {
        let now = self.clock.now();
        let id = position.position_id.clone();
        let step = evaluate(position, bar, now);
        match self.store(position.stop_loss, step).await {
            Err(RepositoryError::Conflict { .. }) => {}
            Ok(outcome) => return outcome.unwrap_or(ExitOutcome::Unchanged { position_id: id }),
            Err(error) => return ExitOutcome::Failed { position_id: id, error },
        }
        // Someone else changed the position between our read and our write: apply the bar to
        // what is stored now, once.
        let fresh = match self.positions.get(&id).await {
            Ok(Some(p)) if p.is_open() => p,
            Ok(_) => return ExitOutcome::Unchanged { position_id: id },
            Err(error) => return ExitOutcome::Failed { position_id: id, error },
        };
        match self.store(fresh.stop_loss, evaluate(&fresh, bar, now)).await {
            Ok(outcome) => outcome.unwrap_or(ExitOutcome::Unchanged { position_id: id }),
            Err(error) => {
                tracing::warn!(position_id = %id, %error, "exit change not stored after a re-read");
                ExitOutcome::Failed { position_id: id, error }
            }
        }
    }

    /// Stores the result of `step`; `None` when there is nothing to store.
    async fn store(&self, from: Option<Decimal>, step: Step) -> Result<Option<ExitOutcome>, RepositoryError> {
        Ok(match step {
            Step::Keep => None,
            Step::Tighten(next) => Some(ExitOutcome::StopMoved { position: self.positions.save(&next).await?, from }),
            Step::Close { position, reason, price, realized_pnl } => {
                let position = self.positions.save(&position).await?;
                tracing::info!(position_id = %position.position_id, ?reason, %price, %realized_pnl, "position closed");
                Some(ExitOutcome::Closed { position, reason, price, realized_pnl })
            }
        })
    }
}

/// A bar price as a decimal (the shortest decimal that reads back as the same `f64`).
fn decimal(price: f64) -> Option<Decimal> {
    price.to_string().parse().ok().or_else(|| Decimal::from_f64_retain(price))
}

/// The tighter of two stops of a `side` position.
fn tighter(side: Side, a: Decimal, b: Decimal) -> Decimal {
    match side {
        Side::Buy => a.max(b),
        Side::Sell => a.min(b),
    }
}

/// What `bar` means for `position` (see the module rules).
fn evaluate(position: &Position, bar: &Bar, now: DateTime<Utc>) -> Step {
    if !position.is_open() || bar.open_time() < position.opened_at {
        return Step::Keep;
    }
    let (Some(open), Some(high), Some(low), Some(close)) =
        (decimal(bar.open()), decimal(bar.high()), decimal(bar.low()), decimal(bar.close()))
    else {
        return Step::Keep;
    };
    let side = position.side;
    if let Some(hit) = position.exit_hit(high, low) {
        let (reason, price) = if Some(hit) == position.stop_loss {
            // A gap through the stop fills at the open: worse than the stop.
            let gapped = match side {
                Side::Buy => open.min(hit),
                Side::Sell => open.max(hit),
            };
            (ExitReason::StopLoss, gapped)
        } else {
            (ExitReason::TakeProfit, hit)
        };
        let mut closed = position.clone();
        return match closed.close(price, now) {
            Ok(realized_pnl) => Step::Close { position: closed, reason, price, realized_pnl },
            Err(_) => Step::Keep,
        };
    }
    let best = match side {
        Side::Buy => high,
        Side::Sell => low,
    };
    let mut next = position.clone();
    let mut stop = position.stop_loss;
    if let Some(distance) = position.trailing_stop_distance {
        let candidate = best - side.sign() * distance;
        stop = Some(stop.map_or(candidate, |s| tighter(side, s, candidate)));
    }
    if let (Some(trigger), false) = (position.breakeven.trigger, position.breakeven.applied)
        && side.sign() * (best - position.entry_price) >= trigger
    {
        stop = Some(stop.map_or(position.entry_price, |s| tighter(side, s, position.entry_price)));
        next.breakeven.applied = true;
    }
    if stop == position.stop_loss && next.breakeven == position.breakeven {
        return Step::Keep;
    }
    next.stop_loss = stop;
    next.current_price = close;
    next.unrealized_pnl = side.sign() * (close - next.entry_price) * next.size;
    next.updated_at = now;
    Step::Tighten(next)
}

#[cfg(test)]
mod tests {
    use axia_domain::ports::MockPositionRepository;
    use axia_domain::{FixedClock, PositionStatus};
    use chrono::{TimeDelta, TimeZone};
    use mockall::Sequence;
    use rstest::rstest;
    use rust_decimal::dec;

    use super::ExitReason::{StopLoss as Sl, TakeProfit as Tp};
    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap()
    }

    fn eurusd() -> Symbol {
        Symbol::new("EURUSD").unwrap()
    }

    /// A stored position of 2 at 1.1000 with its stop loss and take profit 0.0050 away.
    fn position(side: Side) -> Position {
        let mut p = Position::open("P1", "T1", eurusd(), side, dec!(2), dec!(1.1000), t0()).unwrap();
        p.stop_loss = Some(dec!(1.1000) - side.sign() * dec!(0.0050));
        p.take_profit = Some(dec!(1.1000) + side.sign() * dec!(0.0050));
        p.version = 3;
        p
    }

    fn bar(open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar::new(t0() + TimeDelta::minutes(1), open, high, low, close, 1).unwrap()
    }

    fn manager(repo: MockPositionRepository) -> ManageExits {
        ManageExits::new(Arc::new(repo), Arc::new(FixedClock::new(t0() + TimeDelta::minutes(2))))
    }

    /// A repository listing `open` and storing whatever is saved (version + 1).
    fn repo_with(open: Vec<Position>, saves: usize) -> MockPositionRepository {
        let mut repo = MockPositionRepository::new();
        repo.expect_list_open().returning(move |_| Ok(open.clone()));
        repo.expect_save().times(saves).returning(|p| Ok(Position { version: p.version + 1, ..p.clone() }));
        repo
    }

    #[rstest]
    #[case::buy_stop_loss(Side::Buy, bar(1.0990, 1.1000, 1.0940, 1.0960), Some((Sl, dec!(1.0950))))]
    #[case::buy_take_profit(Side::Buy, bar(1.1010, 1.1060, 1.1000, 1.1040), Some((Tp, dec!(1.1050))))]
    #[case::buy_both_stop_first(Side::Buy, bar(1.1000, 1.1060, 1.0940, 1.1000), Some((Sl, dec!(1.0950))))]
    #[case::buy_neither(Side::Buy, bar(1.1000, 1.1040, 1.0960, 1.1000), None)]
    #[case::buy_gap_through_stop(Side::Buy, bar(1.0930, 1.0940, 1.0920, 1.0930), Some((Sl, dec!(1.093))))]
    #[case::sell_stop_loss(Side::Sell, bar(1.1010, 1.1060, 1.1000, 1.1040), Some((Sl, dec!(1.1050))))]
    #[case::sell_take_profit(Side::Sell, bar(1.0990, 1.1000, 1.0940, 1.0960), Some((Tp, dec!(1.0950))))]
    #[case::sell_both_stop_first(Side::Sell, bar(1.1000, 1.1060, 1.0940, 1.1000), Some((Sl, dec!(1.1050))))]
    #[case::sell_neither(Side::Sell, bar(1.1000, 1.1040, 1.0960, 1.1000), None)]
    #[tokio::test]
    async fn exits(#[case] side: Side, #[case] bar: Bar, #[case] exit: Option<(ExitReason, Decimal)>) {
        let p = position(side);
        let mgr = manager(repo_with(vec![p.clone()], usize::from(exit.is_some())));
        let report = mgr.on_bar(&eurusd(), &bar).await.unwrap();
        match (exit, &report.outcomes[..]) {
            (None, [ExitOutcome::Unchanged { position_id }]) => assert_eq!(position_id, "P1"),
            (Some((why, at)), [ExitOutcome::Closed { position, reason, price, realized_pnl }]) => {
                assert_eq!((*reason, *price), (why, at));
                assert_eq!(position.status, PositionStatus::Closed);
                assert_eq!(position.version, 4, "saved on the version read");
                assert_eq!(*realized_pnl, side.sign() * (at - dec!(1.1000)) * dec!(2));
                assert_eq!(position.closed_at, Some(t0() + TimeDelta::minutes(2)));
            }
            (want, got) => panic!("expected {want:?}, got {got:?}"),
        }
    }

    #[rstest]
    #[case::buy(Side::Buy)]
    #[case::sell(Side::Sell)]
    #[tokio::test]
    async fn trailing_moves_only_in_favour(#[case] side: Side) {
        let s = side.sign();
        let mut p = position(side);
        p.trailing_stop_distance = Some(dec!(0.0030));
        // 1: the best price goes 0.0040 in favour: the stop trails to 0.0010 in favour.
        let favourable =
            if side == Side::Buy { bar(1.1000, 1.1040, 1.0990, 1.1030) } else { bar(1.1000, 1.1010, 1.0960, 1.0970) };
        let step = evaluate(&p, &favourable, t0());
        let Step::Tighten(moved) = step else { panic!("expected a tighter stop, got {step:?}") };
        assert_eq!(moved.stop_loss, Some(dec!(1.1000) + s * dec!(0.0010)));
        // 2: the market comes back without reaching the stop: the stop stays.
        let back =
            if side == Side::Buy { bar(1.1020, 1.1025, 1.1015, 1.1020) } else { bar(1.0980, 1.0985, 1.0975, 1.0980) };
        assert_eq!(evaluate(&moved, &back, t0()), Step::Keep);
        // 3: a trailing candidate looser than the current stop never loosens it.
        let mut tight = p.clone();
        tight.stop_loss = Some(dec!(1.1000) - s * dec!(0.0005));
        let quiet = bar(1.1000, 1.1001, 1.0999, 1.1000);
        assert_eq!(evaluate(&tight, &quiet, t0()), Step::Keep);
    }

    #[tokio::test]
    async fn breakeven_arms_once_and_never_loosens() {
        let mut p = position(Side::Buy);
        p.breakeven.trigger = Some(dec!(0.0020));
        let Step::Tighten(armed) = evaluate(&p, &bar(1.1000, 1.1025, 1.0990, 1.1010), t0()) else {
            panic!("breakeven should arm")
        };
        assert_eq!(armed.stop_loss, Some(dec!(1.1000)));
        assert!(armed.breakeven.applied);
        // Armed: a later bar further in favour changes nothing (no trailing distance).
        assert_eq!(evaluate(&armed, &bar(1.1010, 1.1045, 1.1005, 1.1040), t0()), Step::Keep);
        // With a trailing stop already above entry, breakeven arms without pulling the stop back.
        let mut trailing = p.clone();
        trailing.trailing_stop_distance = Some(dec!(0.0010));
        let Step::Tighten(both) = evaluate(&trailing, &bar(1.1000, 1.1030, 1.0995, 1.1020), t0()) else {
            panic!("should tighten")
        };
        assert_eq!(both.stop_loss, Some(dec!(1.1020)));
        assert!(both.breakeven.applied);
    }

    #[tokio::test]
    async fn a_bar_older_than_the_position_is_ignored() {
        let p = position(Side::Buy);
        let old = Bar::new(t0() - TimeDelta::minutes(1), 1.09, 1.2, 1.0, 1.1, 1).unwrap();
        assert_eq!(evaluate(&p, &old, t0()), Step::Keep);
    }

    #[tokio::test]
    async fn a_conflict_rereads_and_retries_once() {
        let p = position(Side::Buy);
        let mut repo = MockPositionRepository::new();
        let listed = p.clone();
        repo.expect_list_open().returning(move |_| Ok(vec![listed.clone()]));
        let mut seq = Sequence::new();
        repo.expect_save()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(RepositoryError::Conflict { what: "position P1".into(), detail: "v".into() }));
        // Someone else moved the stop meanwhile (version 4).
        let fresh = Position { version: 4, stop_loss: Some(dec!(1.0960)), ..p.clone() };
        repo.expect_get().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(fresh.clone())));
        repo.expect_save()
            .times(1)
            .in_sequence(&mut seq)
            .withf(|p| p.version == 4)
            .returning(|p| Ok(Position { version: 5, ..p.clone() }));
        // The bar reaches both the stop read (1.0950) and the stored one (1.0960).
        let report = manager(repo).on_bar(&eurusd(), &bar(1.0990, 1.1000, 1.0945, 1.0960)).await.unwrap();
        let [ExitOutcome::Closed { position, price, .. }] = &report.outcomes[..] else { panic!("{report:?}") };
        assert_eq!((*price, position.version), (dec!(1.0960), 5));
    }

    #[tokio::test]
    async fn a_second_conflict_is_reported_not_overwritten() {
        let p = position(Side::Buy);
        let mut repo = MockPositionRepository::new();
        let listed = p.clone();
        repo.expect_list_open().returning(move |_| Ok(vec![listed.clone()]));
        let fresh = Position { version: 4, ..p.clone() };
        repo.expect_get().times(1).returning(move |_| Ok(Some(fresh.clone())));
        repo.expect_save()
            .times(2)
            .returning(|_| Err(RepositoryError::Conflict { what: "position P1".into(), detail: "v".into() }));
        let report = manager(repo).on_bar(&eurusd(), &bar(1.0990, 1.1000, 1.0940, 1.0960)).await.unwrap();
        assert_eq!(report.failures(), 1);
        assert!(matches!(&report.outcomes[0], ExitOutcome::Failed { error: RepositoryError::Conflict { .. }, .. }));
    }

    #[tokio::test]
    async fn a_position_closed_meanwhile_is_left_alone() {
        let p = position(Side::Buy);
        let mut repo = MockPositionRepository::new();
        let listed = p.clone();
        repo.expect_list_open().returning(move |_| Ok(vec![listed.clone()]));
        repo.expect_save()
            .times(1)
            .returning(|_| Err(RepositoryError::Conflict { what: "position P1".into(), detail: "v".into() }));
        let closed = Position { status: PositionStatus::Closed, version: 4, ..p.clone() };
        repo.expect_get().returning(move |_| Ok(Some(closed.clone())));
        let report = manager(repo).on_bar(&eurusd(), &bar(1.0990, 1.1000, 1.0940, 1.0960)).await.unwrap();
        assert_eq!(report.outcomes, [ExitOutcome::Unchanged { position_id: "P1".into() }]);
    }

    #[tokio::test]
    async fn an_unreadable_store_is_an_error() {
        let mut repo = MockPositionRepository::new();
        repo.expect_list_open().returning(|_| Err(RepositoryError::unavailable("dynamodb", "timeout")));
        let err = manager(repo).on_bar(&eurusd(), &bar(1.1, 1.1, 1.1, 1.1)).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }

    #[tokio::test]
    async fn a_tightened_stop_is_stored_with_its_old_value() {
        let mut p = position(Side::Sell);
        p.trailing_stop_distance = Some(dec!(0.0020));
        let mgr = manager(repo_with(vec![p.clone()], 1));
        let report = mgr.on_bar(&eurusd(), &bar(1.1000, 1.1005, 1.0970, 1.0980)).await.unwrap();
        let [ExitOutcome::StopMoved { position, from }] = &report.outcomes[..] else { panic!("{report:?}") };
        assert_eq!((*from, position.stop_loss, position.version), (Some(dec!(1.1050)), Some(dec!(1.0990)), 4));
        assert_eq!(position.current_price, dec!(1.098));
    }
}
