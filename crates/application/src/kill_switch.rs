//! [`KillSwitchService`]: the kill switch as operators and the order processor use it — the
//! effective state (fail-closed), audited changes under optimistic locking, the audit trail,
//! and the one-time initialisation — with an optional best-effort mirror (Redis
//! `system:status`).
//!
//! # Never initialised reads as Halted
//!
//! A store that holds no kill-switch state ([`RepositoryError::NotFound`]) is *not* initialised
//! on the fly: [`KillSwitchService::status`] reports it as the fail-closed Halted state, with a
//! reason that names `axia init`. Only [`KillSwitchService::initialise`] (run by `axia init`, an
//! explicit operator step) writes the first state, Active at version 1. Initialising on read
//! would let a wiped store, or a configuration pointing at the wrong table or file, silently
//! turn trading on.
//!
//! # The store is the system of record
//!
//! A change is written to the [`KillSwitchRepository`] first, conditional on the version it was
//! built from; a [`RepositoryError::Conflict`] (someone else changed the switch in between) is
//! reported as [`KillSwitchError::Conflict`] and nothing is overwritten. Only after the store
//! accepted the change is it copied to the mirror; a mirror failure is a warning in the result,
//! never an error, since the mirror is rebuilt from the store.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::ports::{KillSwitchRepository, RepositoryError};
use axia_domain::{Clock, DomainError, KillSwitchAudit, KillSwitchState, TradingState};
use serde::Serialize;
use thiserror::Error;

/// Where a stored kill-switch change is copied for fast readers (Redis `system:status`).
///
/// # Contract
/// Idempotent and ordered by [`KillSwitchState::version`]: mirroring a state that is as old as
/// or older than the mirrored one changes nothing and is not an error.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait KillSwitchMirror: Send + Sync + fmt::Debug {
    /// Copies `state` to the mirror.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when the mirror cannot be reached,
    /// [`RepositoryError::Corrupt`] when what it holds cannot be compared.
    async fn mirror(&self, state: &KillSwitchState) -> Result<(), RepositoryError>;
}

/// Why a kill-switch operation failed.
#[derive(Debug, Error)]
pub enum KillSwitchError {
    /// The store holds no state yet; trading is halted until `axia init` writes the first one.
    #[error("the kill switch has never been initialised, so trading is halted: run `axia init` first")]
    NotInitialised,
    /// The change itself is invalid (a blank reason).
    #[error("invalid kill-switch change: {0}")]
    Invalid(#[from] DomainError),
    /// Someone else changed the switch between our read and our write; nothing was written.
    #[error(
        "the kill switch was changed by someone else since version {expected_version} was read ({detail}); \
         nothing was overwritten: check `axia kill-switch status` and retry"
    )]
    Conflict {
        /// The version our change was built on.
        expected_version: u64,
        /// What the store said.
        detail: String,
    },
    /// The store could not be read or written.
    #[error("kill switch store: {0}")]
    Store(#[source] RepositoryError),
}

impl KillSwitchError {
    /// Whether the same call may succeed later without anyone acting.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::NotInitialised | Self::Invalid(_) | Self::Conflict { .. } => false,
        }
    }
}

/// What happened to the mirror after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MirrorOutcome {
    /// No mirror is configured.
    NotConfigured,
    /// The mirror holds the new state (or a newer one).
    Mirrored,
    /// The mirror could not be written; the change stands in the store.
    Failed {
        /// Why.
        error: String,
    },
}

impl MirrorOutcome {
    /// The warning to show, when the mirror failed.
    #[must_use]
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::Failed { error } => {
                Some(format!("the kill switch change is stored, but its mirror could not be updated: {error}"))
            }
            Self::NotConfigured | Self::Mirrored => None,
        }
    }
}

/// The state trading must obey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveKillSwitch {
    /// The stored state, or the fail-closed Halted state (version 0) when it cannot be read.
    pub state: KillSwitchState,
    /// Why the stored state could not be read; `Some` exactly when `state` is fail-closed.
    pub unreadable: Option<RepositoryError>,
}

impl EffectiveKillSwitch {
    /// Whether `state` is the fail-closed substitute rather than the stored state.
    #[must_use]
    pub const fn is_fail_closed(&self) -> bool {
        self.unreadable.is_some()
    }
}

/// A stored change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitchChange {
    /// The new state, as stored.
    pub state: KillSwitchState,
    /// Its audit record (previous state, who, why, when, version).
    pub audit: KillSwitchAudit,
    /// What happened to the mirror.
    pub mirror: MirrorOutcome,
}

/// What [`KillSwitchService::initialise`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitchInit {
    /// The state now stored.
    pub state: KillSwitchState,
    /// Whether this call wrote it (false: it was already there and nothing changed).
    pub created: bool,
    /// What happened to the mirror.
    pub mirror: MirrorOutcome,
}

/// The kill-switch use cases (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct KillSwitchService {
    repo: Arc<dyn KillSwitchRepository>,
    clock: Arc<dyn Clock>,
    mirror: Option<Arc<dyn KillSwitchMirror>>,
}

impl KillSwitchService {
    /// The service over `repo`, the system of record.
    #[must_use]
    pub fn new(repo: Arc<dyn KillSwitchRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock, mirror: None }
    }

    /// Copies every stored change (and the initial state) to `mirror`, best effort.
    #[must_use]
    pub fn with_mirror(mut self, mirror: Arc<dyn KillSwitchMirror>) -> Self {
        self.mirror = Some(mirror);
        self
    }

    /// The effective state: the stored one, or Halted when it cannot be read (never
    /// initialised, corrupt, store unreachable). Never fails: failing closed is the answer.
    pub async fn status(&self) -> EffectiveKillSwitch {
        match self.repo.get().await {
            Ok(state) => EffectiveKillSwitch { state, unreadable: None },
            Err(e) => {
                tracing::warn!(error = %e, "kill switch unreadable; trading is halted");
                let cause = match &e {
                    RepositoryError::NotFound { .. } => format!("{e}: never initialised, run `axia init`"),
                    RepositoryError::Misconfigured { detail, .. } if !detail.contains("axia init") => {
                        format!("{e} (run `axia init` to set it up)")
                    }
                    _ => e.to_string(),
                };
                EffectiveKillSwitch {
                    state: KillSwitchState::fail_closed(cause, self.clock.now()),
                    unreadable: Some(e),
                }
            }
        }
    }

    /// Moves the switch to `to`, audited with `reason` and `changed_by`, conditional on the
    /// version just read; then mirrors the new state.
    ///
    /// # Errors
    /// [`KillSwitchError::Invalid`] for a blank reason (checked before any I/O),
    /// [`KillSwitchError::NotInitialised`], [`KillSwitchError::Conflict`] when someone else
    /// changed it meanwhile (nothing written), [`KillSwitchError::Store`] otherwise. A mirror
    /// failure is not an error ([`KillSwitchChange::mirror`]).
    pub async fn change(
        &self,
        to: TradingState,
        reason: &str,
        changed_by: &str,
    ) -> Result<KillSwitchChange, KillSwitchError> {
        if reason.trim().is_empty() {
            return Err(KillSwitchError::Invalid(DomainError::InvalidValue {
                field: "reason",
                detail: "a kill-switch change needs a reason".into(),
            }));
        }
        let current = match self.repo.get().await {
            Ok(state) => state,
            Err(RepositoryError::NotFound { .. }) => return Err(KillSwitchError::NotInitialised),
            Err(e) => return Err(KillSwitchError::Store(e)),
        };
        let (next, audit) = current.change(to, reason.trim(), changed_by, self.clock.now())?;
        self.repo.set(&next, &audit, current.version).await.map_err(|e| match e {
            RepositoryError::Conflict { detail, .. } => {
                KillSwitchError::Conflict { expected_version: current.version, detail }
            }
            e => KillSwitchError::Store(e),
        })?;
        tracing::info!(
            from = %audit.previous, to = %next.state, version = next.version, by = %next.changed_by,
            reason = %next.reason, "kill switch changed"
        );
        let mirror = self.mirror(&next).await;
        Ok(KillSwitchChange { state: next, audit, mirror })
    }

    /// The audit trail, newest first, at most `limit` records.
    ///
    /// # Errors
    /// [`KillSwitchError::Store`].
    pub async fn history(&self, limit: usize) -> Result<Vec<KillSwitchAudit>, KillSwitchError> {
        self.repo.history(limit).await.map_err(KillSwitchError::Store)
    }

    /// Writes the initial state (Active, version 1, audited as a change from the fail-closed
    /// Halted) when the store holds none; otherwise changes nothing. Either way the stored state
    /// is mirrored, so a lost mirror is rebuilt (the mirror never goes back a version).
    ///
    /// # Errors
    /// [`KillSwitchError::Store`] when the store cannot be read (a corrupt state is never
    /// overwritten: an operator must look at it) or written.
    pub async fn initialise(&self, changed_by: &str) -> Result<KillSwitchInit, KillSwitchError> {
        let (state, created) = match self.repo.get().await {
            Ok(state) => (state, false),
            Err(RepositoryError::NotFound { .. }) => {
                let now = self.clock.now();
                let initial = KillSwitchState::initial(changed_by, now);
                let audit = KillSwitchAudit {
                    previous: TradingState::Halted,
                    state: initial.state,
                    reason: initial.reason.clone(),
                    changed_by: initial.changed_by.clone(),
                    changed_at: now,
                    version: initial.version,
                };
                match self.repo.set(&initial, &audit, 0).await {
                    Ok(()) => (initial, true),
                    // Another `axia init` won the race: what it stored stands.
                    Err(RepositoryError::Conflict { .. }) => {
                        (self.repo.get().await.map_err(KillSwitchError::Store)?, false)
                    }
                    Err(e) => return Err(KillSwitchError::Store(e)),
                }
            }
            Err(e) => return Err(KillSwitchError::Store(e)),
        };
        let mirror = self.mirror(&state).await;
        Ok(KillSwitchInit { state, created, mirror })
    }

    async fn mirror(&self, state: &KillSwitchState) -> MirrorOutcome {
        let Some(mirror) = &self.mirror else { return MirrorOutcome::NotConfigured };
        match mirror.mirror(state).await {
            Ok(()) => MirrorOutcome::Mirrored,
            Err(e) => {
                tracing::debug!(error = %e, version = state.version, "kill switch mirror not updated");
                MirrorOutcome::Failed { error: e.to_string() }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::FixedClock;
    use axia_domain::ports::MockKillSwitchRepository;
    use chrono::{DateTime, TimeZone, Utc};
    use mockall::predicate::eq;
    use rstest::rstest;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 2, 10, 30, 0).unwrap()
    }

    fn stored(state: TradingState, version: u64) -> KillSwitchState {
        KillSwitchState { state, reason: "earlier".into(), changed_by: "ops".into(), changed_at: t0(), version }
    }

    fn service(repo: MockKillSwitchRepository, mirror: Option<MockKillSwitchMirror>) -> KillSwitchService {
        let s = KillSwitchService::new(Arc::new(repo), Arc::new(FixedClock::new(now())));
        match mirror {
            Some(m) => s.with_mirror(Arc::new(m)),
            None => s,
        }
    }

    fn reading(result: Result<KillSwitchState, RepositoryError>) -> MockKillSwitchRepository {
        let mut repo = MockKillSwitchRepository::new();
        repo.expect_get().times(1).return_once(move || result);
        repo
    }

    #[rstest]
    #[case::never_initialised(RepositoryError::NotFound { what: "kill switch".into() }, "axia init")]
    #[case::corrupt(RepositoryError::corrupt("kill switch", "bad json"), "bad json")]
    #[case::unavailable(RepositoryError::unavailable("dynamodb", "timeout"), "timeout")]
    #[case::table_missing(
        RepositoryError::Misconfigured { backend: "dynamodb".into(), detail: "table t missing".into() },
        "axia init"
    )]
    #[tokio::test]
    async fn kill_switch_status_fails_closed_naming_the_cause(#[case] error: RepositoryError, #[case] named: &str) {
        let repo = reading(Err(error.clone()));
        let effective = service(repo, None).status().await;
        assert!(effective.is_fail_closed());
        assert_eq!(effective.unreadable, Some(error));
        assert_eq!(effective.state.state, TradingState::Halted);
        assert_eq!(effective.state.version, 0);
        assert_eq!(effective.state.changed_at, now());
        assert!(effective.state.reason.starts_with("fail-closed"), "{}", effective.state.reason);
        assert!(effective.state.reason.contains(named), "{}", effective.state.reason);
    }

    #[tokio::test]
    async fn kill_switch_status_is_the_stored_state() {
        let repo = reading(Ok(stored(TradingState::ReduceOnly, 4)));
        let effective = service(repo, None).status().await;
        assert!(!effective.is_fail_closed());
        assert_eq!(effective.state, stored(TradingState::ReduceOnly, 4));
    }

    #[tokio::test]
    async fn kill_switch_change_writes_the_audit_record_on_the_version_read_and_mirrors_it() {
        let mut repo = reading(Ok(stored(TradingState::Active, 3)));
        let want = KillSwitchState {
            state: TradingState::Halted,
            reason: "drawdown 5 %".into(),
            changed_by: "alice@desk".into(),
            changed_at: now(),
            version: 4,
        };
        let want_audit = KillSwitchAudit {
            previous: TradingState::Active,
            state: TradingState::Halted,
            reason: "drawdown 5 %".into(),
            changed_by: "alice@desk".into(),
            changed_at: now(),
            version: 4,
        };
        let (w, a) = (want.clone(), want_audit.clone());
        repo.expect_set()
            .withf(move |next, audit, expected| *next == w && *audit == a && *expected == 3)
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut mirror = MockKillSwitchMirror::new();
        mirror.expect_mirror().with(eq(want.clone())).times(1).returning(|_| Ok(()));
        let change =
            service(repo, Some(mirror)).change(TradingState::Halted, "  drawdown 5 %  ", "alice@desk").await.unwrap();
        assert_eq!(change.state, want);
        assert_eq!(change.audit, want_audit);
        assert_eq!(change.mirror, MirrorOutcome::Mirrored);
        assert_eq!(change.mirror.warning(), None);
    }

    #[tokio::test]
    async fn kill_switch_conflict_is_reported_and_never_overwritten_nor_mirrored() {
        let mut repo = reading(Ok(stored(TradingState::Active, 7)));
        repo.expect_set().times(1).returning(|_, _, _| {
            Err(RepositoryError::Conflict { what: "kill switch".into(), detail: "stored version 8".into() })
        });
        let mut mirror = MockKillSwitchMirror::new();
        mirror.expect_mirror().never();
        let err = service(repo, Some(mirror)).change(TradingState::Halted, "why", "bob").await.unwrap_err();
        match &err {
            KillSwitchError::Conflict { expected_version, detail } => {
                assert_eq!((*expected_version, detail.as_str()), (7, "stored version 8"));
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert!(err.to_string().contains("someone else"), "{err}");
        assert!(!err.is_retryable());
    }

    #[rstest]
    #[case::unavailable(RepositoryError::unavailable("redis", "connection refused"))]
    #[case::corrupt(RepositoryError::corrupt("system:status", "version"))]
    #[tokio::test]
    async fn kill_switch_mirror_failure_is_a_warning_and_the_change_stands(#[case] error: RepositoryError) {
        let mut repo = reading(Ok(stored(TradingState::Halted, 2)));
        repo.expect_set().times(1).returning(|_, _, _| Ok(()));
        let mut mirror = MockKillSwitchMirror::new();
        let e = error.clone();
        mirror.expect_mirror().times(1).return_once(move |_| Err(e));
        let change = service(repo, Some(mirror)).change(TradingState::Active, "recovered", "carol").await.unwrap();
        assert_eq!((change.state.state, change.state.version), (TradingState::Active, 3));
        assert_eq!(change.mirror, MirrorOutcome::Failed { error: error.to_string() });
        let warning = change.mirror.warning().unwrap();
        assert!(warning.contains("stored") && warning.contains(&error.to_string()), "{warning}");
    }

    #[rstest]
    #[case::empty("")]
    #[case::blank(" \t ")]
    #[tokio::test]
    async fn kill_switch_change_needs_a_reason_before_any_io(#[case] reason: &str) {
        let mut repo = MockKillSwitchRepository::new();
        repo.expect_get().never();
        repo.expect_set().never();
        let err = service(repo, None).change(TradingState::Halted, reason, "dave").await.unwrap_err();
        assert!(matches!(err, KillSwitchError::Invalid(_)), "{err:?}");
    }

    #[rstest]
    #[case::never_initialised(RepositoryError::NotFound { what: "kill switch".into() }, false)]
    #[case::corrupt(RepositoryError::corrupt("kill switch", "bad json"), false)]
    #[case::unavailable(RepositoryError::unavailable("dynamodb", "timeout"), true)]
    #[tokio::test]
    async fn kill_switch_change_on_an_unreadable_state_writes_nothing(
        #[case] error: RepositoryError,
        #[case] retryable: bool,
    ) {
        let not_found = matches!(error, RepositoryError::NotFound { .. });
        let mut repo = reading(Err(error));
        repo.expect_set().never();
        let err = service(repo, None).change(TradingState::Halted, "x", "eve").await.unwrap_err();
        assert_eq!(matches!(err, KillSwitchError::NotInitialised), not_found, "{err:?}");
        if not_found {
            assert!(err.to_string().contains("axia init"), "{err}");
        }
        assert_eq!(err.is_retryable(), retryable);
    }

    #[tokio::test]
    async fn kill_switch_initialise_creates_version_1_active_when_absent() {
        let mut repo = reading(Err(RepositoryError::NotFound { what: "kill switch".into() }));
        repo.expect_set()
            .withf(|next, audit, expected| {
                *next == KillSwitchState::initial("deploy@host", now())
                    && audit.previous == TradingState::Halted
                    && audit.state == TradingState::Active
                    && audit.version == 1
                    && audit.changed_by == "deploy@host"
                    && *expected == 0
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut mirror = MockKillSwitchMirror::new();
        mirror.expect_mirror().times(1).returning(|_| Ok(()));
        let init = service(repo, Some(mirror)).initialise("deploy@host").await.unwrap();
        assert!(init.created);
        assert_eq!((init.state.state, init.state.version), (TradingState::Active, 1));
        assert_eq!(init.mirror, MirrorOutcome::Mirrored);
    }

    #[tokio::test]
    async fn kill_switch_initialise_leaves_an_existing_state_alone() {
        let mut repo = reading(Ok(stored(TradingState::Halted, 5)));
        repo.expect_set().never();
        let init = service(repo, None).initialise("deploy").await.unwrap();
        assert!(!init.created);
        assert_eq!(init.state, stored(TradingState::Halted, 5));
        assert_eq!(init.mirror, MirrorOutcome::NotConfigured);
    }

    #[tokio::test]
    async fn kill_switch_initialise_racing_another_keeps_the_winner() {
        let mut repo = MockKillSwitchRepository::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Err(RepositoryError::NotFound { what: "kill switch".into() }));
        repo.expect_set().times(1).in_sequence(&mut seq).returning(|_, _, _| {
            Err(RepositoryError::Conflict { what: "kill switch".into(), detail: "exists".into() })
        });
        repo.expect_get().times(1).in_sequence(&mut seq).returning(|| Ok(stored(TradingState::Active, 1)));
        let init = service(repo, None).initialise("deploy").await.unwrap();
        assert!(!init.created);
        assert_eq!(init.state, stored(TradingState::Active, 1));
    }

    #[tokio::test]
    async fn kill_switch_initialise_never_overwrites_a_corrupt_state() {
        let mut repo = reading(Err(RepositoryError::corrupt("kill switch", "bad json")));
        repo.expect_set().never();
        let err = service(repo, None).initialise("deploy").await.unwrap_err();
        assert!(matches!(err, KillSwitchError::Store(RepositoryError::Corrupt { .. })), "{err:?}");
    }

    #[tokio::test]
    async fn kill_switch_history_passes_the_limit_and_keeps_the_order() {
        let mut repo = MockKillSwitchRepository::new();
        let audit = |previous, state, version| KillSwitchAudit {
            previous,
            state,
            reason: "r".into(),
            changed_by: "ops".into(),
            changed_at: t0(),
            version,
        };
        let trail = vec![
            audit(TradingState::Halted, TradingState::Active, 3),
            audit(TradingState::Active, TradingState::Halted, 2),
        ];
        let returned = trail.clone();
        repo.expect_history().with(eq(2)).times(1).return_once(move |_| Ok(returned));
        assert_eq!(service(repo, None).history(2).await.unwrap(), trail);
    }
}
