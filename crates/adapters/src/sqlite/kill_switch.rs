//! [`KillSwitchRepository`] over SQLite: one row in `kill_switch`, one audit row per change.

use async_trait::async_trait;
use axia_domain::ports::{KillSwitchRepository, RepositoryError};
use axia_domain::{KillSwitchAudit, KillSwitchState};
use rusqlite::{OptionalExtension, Transaction};

use super::{SqliteStateStore, conflict, decode, encode, sql_err, sql_version, stored_version};
use crate::state_rules::check_kill_switch_version;

const WHAT: &str = "kill switch";

/// The stored version, `None` when never initialised.
fn current_version(tx: &Transaction<'_>) -> Result<Option<u64>, RepositoryError> {
    let v: Option<i64> =
        tx.query_row("SELECT version FROM kill_switch WHERE id = 1", [], |r| r.get(0)).optional().map_err(sql_err)?;
    v.map(|v| stored_version(WHAT, v)).transpose()
}

#[async_trait]
impl KillSwitchRepository for SqliteStateStore {
    async fn get(&self) -> Result<KillSwitchState, RepositoryError> {
        let row: Option<(i64, String)> = self
            .run(|c| {
                c.query_row("SELECT version, doc FROM kill_switch WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql_err)
            })
            .await?;
        let Some((version, doc)) = row else {
            return Err(RepositoryError::NotFound { what: WHAT.into() });
        };
        let version = stored_version(WHAT, version)?;
        let state: KillSwitchState = decode(WHAT, &doc)?;
        if state.version != version {
            return Err(RepositoryError::corrupt(
                WHAT,
                format!("the document has version {}, the row {version}", state.version),
            ));
        }
        Ok(state)
    }

    async fn set(
        &self,
        next: &KillSwitchState,
        audit: &KillSwitchAudit,
        expected_version: u64,
    ) -> Result<(), RepositoryError> {
        check_kill_switch_version(next, expected_version)?;
        let doc = encode(WHAT, next)?;
        let audit_doc = encode("kill switch audit", audit)?;
        let new_version = sql_version(WHAT, next.version)?;
        let expected = sql_version(WHAT, expected_version)?;
        self.write(move |tx| {
            let stored = current_version(tx)?;
            match (stored, expected_version) {
                (None, 0) => {
                    tx.execute("INSERT INTO kill_switch (id, version, doc) VALUES (1, ?1, ?2)", (new_version, &doc))
                        .map_err(sql_err)?;
                }
                (Some(v), _) if v == expected_version && expected_version != 0 => {
                    let n = tx
                        .execute(
                            "UPDATE kill_switch SET version = ?1, doc = ?2 WHERE id = 1 AND version = ?3",
                            (new_version, &doc, expected),
                        )
                        .map_err(sql_err)?;
                    if n != 1 {
                        return Err(conflict(WHAT, "changed during the write"));
                    }
                }
                (None, e) => return Err(conflict(WHAT, format!("expected version {e}, but it was never set"))),
                (Some(v), e) => return Err(conflict(WHAT, format!("expected version {e}, stored version {v}"))),
            }
            tx.execute("INSERT INTO kill_switch_audit (version, doc) VALUES (?1, ?2)", (new_version, &audit_doc))
                .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn history(&self, limit: usize) -> Result<Vec<KillSwitchAudit>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let docs: Vec<(i64, String)> = self
            .run(move |c| {
                let mut st =
                    c.prepare("SELECT seq, doc FROM kill_switch_audit ORDER BY seq DESC LIMIT ?1").map_err(sql_err)?;
                let rows = st.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await?;
        docs.iter().map(|(seq, doc)| decode(&format!("kill switch audit #{seq}"), doc)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axia_application::KillSwitchService;
    use axia_domain::{FixedClock, TradingState};
    use chrono::{DateTime, TimeZone, Utc};
    use rstest::rstest;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap()
    }

    /// The state the application obeys (fail-closed).
    async fn effective(store: &SqliteStateStore) -> KillSwitchState {
        let clock = Arc::new(FixedClock::new(t0()));
        KillSwitchService::new(Arc::new(store.clone()), clock).status().await.state
    }

    async fn initialised() -> SqliteStateStore {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        let init = KillSwitchState::initial("ops", t0());
        let audit = KillSwitchAudit {
            previous: TradingState::Halted,
            state: TradingState::Active,
            reason: init.reason.clone(),
            changed_by: "ops".into(),
            changed_at: t0(),
            version: 1,
        };
        store.set(&init, &audit, 0).await.unwrap();
        store
    }

    #[rstest]
    #[case::not_json("UPDATE kill_switch SET doc = 'garbage'")]
    #[case::version_mismatch("UPDATE kill_switch SET version = 7")]
    #[case::bad_state("UPDATE kill_switch SET doc = replace(doc, '\"active\"', '\"maybe\"')")]
    #[tokio::test]
    async fn sqlite_corrupt_kill_switch_reads_as_corrupt_and_halted(#[case] sql: &'static str) {
        let store = initialised().await;
        assert_eq!(effective(&store).await.state, TradingState::Active);
        assert_eq!(store.execute_raw(sql).await, 1);
        let err = KillSwitchRepository::get(&store).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Corrupt { .. }), "{err:?}");
        let effective = effective(&store).await;
        assert_eq!(effective.state, TradingState::Halted);
        assert!(effective.reason.contains("fail-closed"), "{}", effective.reason);
    }

    #[tokio::test]
    async fn sqlite_missing_kill_switch_is_not_found_and_halted() {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        assert!(matches!(KillSwitchRepository::get(&store).await, Err(RepositoryError::NotFound { .. })));
        assert_eq!(effective(&store).await.state, TradingState::Halted);
    }

    #[tokio::test]
    async fn sqlite_kill_switch_refuses_a_version_that_does_not_follow() {
        let store = initialised().await;
        let current = KillSwitchRepository::get(&store).await.unwrap();
        let (mut next, audit) = current.change(TradingState::Halted, "x", "bob", t0()).unwrap();
        next.version = 9;
        let err = store.set(&next, &audit, 1).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Invalid { .. }), "{err:?}");
        assert_eq!(store.history(10).await.unwrap().len(), 1);
    }
}
