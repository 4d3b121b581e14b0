//! [`PositionRepository`] over SQLite: one row per position, open or closed (the system of
//! record keeps closed positions; `list_open` filters them).

use async_trait::async_trait;
use axia_domain::ports::{PositionRepository, RepositoryError};
use axia_domain::{Position, PositionStatus, Symbol};
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use rusqlite::{Connection, OptionalExtension};

use super::{SqliteStateStore, conflict, decode, encode, micros, next_version, sql_err, sql_version, stored_version};

fn what(position_id: &str) -> String {
    format!("position {position_id}")
}

/// Writes `position` conditional on its version (0: create) on `conn`, which the caller holds
/// inside a transaction; returns it with the new version.
pub(super) fn save_position(conn: &Connection, position: &Position) -> Result<Position, RepositoryError> {
    let id = &position.position_id;
    let w = what(id);
    let mut next = position.clone();
    next.version = next_version(&w, position.version)?;
    let doc = encode(&w, &next)?;
    let stored: Option<i64> = conn
        .query_row("SELECT version FROM positions WHERE position_id = ?1", [id], |r| r.get(0))
        .optional()
        .map_err(sql_err)?;
    let stored = stored.map(|v| stored_version(&w, v)).transpose()?;
    match (stored, position.version) {
        (None, 0) => {
            conn.execute(
                "INSERT INTO positions (position_id, symbol, status, version, opened_at_us, doc, strategy_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (
                    id,
                    next.symbol.as_str(),
                    next.status.as_str(),
                    sql_version(&w, next.version)?,
                    micros(next.opened_at),
                    &doc,
                    next.strategy_id.as_deref(),
                ),
            )
            .map_err(sql_err)?;
        }
        (Some(v), expected) if v == expected && expected != 0 => {
            conn.execute(
                "UPDATE positions SET symbol = ?2, status = ?3, version = ?4, opened_at_us = ?5, doc = ?6,
                 strategy_id = ?8 WHERE position_id = ?1 AND version = ?7",
                (
                    id,
                    next.symbol.as_str(),
                    next.status.as_str(),
                    sql_version(&w, next.version)?,
                    micros(next.opened_at),
                    &doc,
                    sql_version(&w, expected)?,
                    next.strategy_id.as_deref(),
                ),
            )
            .map_err(sql_err)?;
        }
        (Some(v), 0) => return Err(conflict(w, format!("it exists (version {v})"))),
        (Some(v), e) => return Err(conflict(w, format!("expected version {e}, stored version {v}"))),
        (None, e) => return Err(conflict(w, format!("expected version {e}, but it does not exist"))),
    }
    Ok(next)
}

/// Decodes a row, checking that the document belongs to it.
fn decode_row(id: &str, version: i64, doc: &str) -> Result<Position, RepositoryError> {
    let w = what(id);
    let version = stored_version(&w, version)?;
    let p: Position = decode(&w, doc)?;
    if p.position_id != id || p.version != version {
        return Err(RepositoryError::corrupt(
            w,
            format!("the document is position {:?} version {}, the row version {version}", p.position_id, p.version),
        ));
    }
    Ok(p)
}

#[async_trait]
impl PositionRepository for SqliteStateStore {
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError> {
        let position = position.clone();
        self.write(move |tx| save_position(tx, &position)).await
    }

    async fn get(&self, position_id: &str) -> Result<Option<Position>, RepositoryError> {
        let id = position_id.to_string();
        let row: Option<(i64, String)> = self
            .run(move |c| {
                c.query_row("SELECT version, doc FROM positions WHERE position_id = ?1", [&id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(sql_err)
            })
            .await?;
        row.map(|(v, doc)| decode_row(position_id, v, &doc)).transpose()
    }

    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError> {
        let symbol = symbol.map(|s| s.as_str().to_string());
        self.select_positions(
            "SELECT position_id, version, doc FROM positions
             WHERE status = 'OPEN' AND (?1 IS NULL OR symbol = ?1)
             ORDER BY opened_at_us, position_id",
            (symbol,),
        )
        .await
    }

    async fn list_by_strategy(
        &self,
        strategy_id: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError> {
        let strategy_id = strategy_id.to_string();
        let status = status.map(PositionStatus::as_str);
        self.select_positions(
            "SELECT position_id, version, doc FROM positions
             WHERE strategy_id = ?1 AND (?2 IS NULL OR status = ?2)
             ORDER BY opened_at_us, position_id",
            (strategy_id, status),
        )
        .await
    }

    async fn opened_on(&self, date: NaiveDate) -> Result<Vec<Position>, RepositoryError> {
        let start = date.and_time(NaiveTime::MIN).and_utc();
        self.select_positions(
            "SELECT position_id, version, doc FROM positions
             WHERE opened_at_us >= ?1 AND opened_at_us < ?2
             ORDER BY opened_at_us, position_id",
            (micros(start), micros(start + TimeDelta::days(1))),
        )
        .await
    }
}

impl SqliteStateStore {
    /// Runs a `SELECT position_id, version, doc …` and decodes the rows.
    async fn select_positions<P>(&self, sql: &'static str, params: P) -> Result<Vec<Position>, RepositoryError>
    where
        P: rusqlite::Params + Send + 'static,
    {
        let rows: Vec<(String, i64, String)> = self
            .run(move |c| {
                let mut st = c.prepare(sql).map_err(sql_err)?;
                let rows = st.query_map(params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await?;
        rows.iter().map(|(id, v, doc)| decode_row(id, *v, doc)).collect()
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::Side;
    use chrono::{TimeZone, Utc};

    use super::*;

    fn open(id: &str) -> Position {
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        Position::open(
            id,
            "T1",
            Symbol::new("EURUSD").unwrap(),
            Side::Buy,
            "1.50".parse().unwrap(),
            "1.10000".parse().unwrap(),
            at,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn sqlite_position_round_trips_exactly_and_keeps_closed_ones() {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        let mut p = open("P1");
        p.realized_pnl = "-12.345678901234567890".parse().unwrap();
        let mut stored = store.save(&p).await.unwrap();
        assert_eq!(store.get("P1").await.unwrap().as_ref(), Some(&stored));
        stored.close("1.2".parse().unwrap(), stored.opened_at).unwrap();
        let closed = store.save(&stored).await.unwrap();
        assert_eq!(closed.version, 2);
        assert_eq!(store.get("P1").await.unwrap(), Some(closed));
        assert!(store.list_open(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn sqlite_schema_1_file_gains_the_strategy_index_with_its_positions_backfilled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut with_strategy = open("P1");
        with_strategy.strategy_id = Some("S-7".into());
        with_strategy.version = 1;
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(super::super::MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
                 INSERT INTO schema_migrations VALUES (1, 'then');",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO positions (position_id, symbol, status, version, opened_at_us, doc)
                 VALUES ('P1', 'EURUSD', 'OPEN', 1, ?1, ?2)",
                (micros(with_strategy.opened_at), serde_json::to_string(&with_strategy).unwrap()),
            )
            .unwrap();
        }
        let store = SqliteStateStore::open(&path).await.unwrap();
        assert_eq!(store.list_by_strategy("S-7", None).await.unwrap(), [with_strategy.clone()]);
        assert_eq!(store.list_by_strategy("S-7", Some(PositionStatus::Closed)).await.unwrap(), []);
        assert_eq!(store.opened_on(with_strategy.opened_at.date_naive()).await.unwrap(), [with_strategy]);
    }

    #[tokio::test]
    async fn sqlite_position_with_a_foreign_document_is_corrupt() {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        store.save(&open("P1")).await.unwrap();
        store.execute_raw("UPDATE positions SET doc = replace(doc, '\"P1\"', '\"P9\"')").await;
        assert!(matches!(store.get("P1").await, Err(RepositoryError::Corrupt { .. })));
        assert!(matches!(store.list_open(None).await, Err(RepositoryError::Corrupt { .. })));
    }
}
