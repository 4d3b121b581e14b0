//! The embedded state store: kill switch, orders, positions and trades in one SQLite file.
//!
//! [`SqliteStateStore`] is the system of record of the embedded setup (the `sqlite` backend of
//! the `[state]` section). It implements [`KillSwitchRepository`], [`OrderRepository`],
//! [`PositionRepository`] and [`TradeRepository`] over one connection.
//!
//! # Layout
//!
//! Each entity is one row holding the domain value as JSON (decimals as strings, so exact) plus
//! the columns its queries and conditions need (`version`, `status`, times in epoch
//! microseconds). `schema_migrations` records the schema version; [`SqliteStateStore::open`]
//! applies the missing migrations and refuses a file written by a newer schema.
//!
//! # Concurrency
//!
//! The file runs in WAL mode with a busy timeout. All calls go through one
//! `Mutex<Connection>` on tokio's blocking pool, so the async runtime never waits on SQLite,
//! and every write is one `BEGIN IMMEDIATE` transaction: a version or status condition is
//! checked and the write applied under the same lock, so no update is lost, also against
//! other processes sharing the file.
//!
//! [`KillSwitchRepository`]: axia_domain::ports::KillSwitchRepository
//! [`OrderRepository`]: axia_domain::ports::OrderRepository
//! [`PositionRepository`]: axia_domain::ports::PositionRepository
//! [`TradeRepository`]: axia_domain::ports::TradeRepository

mod kill_switch;
mod orders;
mod positions;
mod trades;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axia_domain::ports::RepositoryError;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use serde::Serialize;

use crate::state_rules::{conflict, next_version};
use serde::de::DeserializeOwned;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// How long a statement waits for another process's lock before failing as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order: entry `i` brings the schema to version `i + 1`.
const MIGRATIONS: [&str; 2] = [
    r"
CREATE TABLE kill_switch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE kill_switch_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX orders_by_status ON orders (status, created_at_us);
CREATE INDEX orders_by_time ON orders (created_at_us);
CREATE TABLE positions (
    position_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    opened_at_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX positions_open ON positions (status, symbol, opened_at_us);
CREATE TABLE trades (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trade_id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL,
    position_id TEXT NOT NULL,
    executed_at_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX trades_by_order ON trades (client_order_id, executed_at_us);
CREATE INDEX trades_by_position ON trades (position_id, executed_at_us);
",
    // Access patterns AP4 (positions of a strategy) and AP5 (positions opened on a day).
    r"
ALTER TABLE positions ADD COLUMN strategy_id TEXT;
UPDATE positions SET strategy_id = json_extract(doc, '$.strategy_id');
CREATE INDEX positions_by_strategy ON positions (strategy_id, status, opened_at_us);
CREATE INDEX positions_by_open_time ON positions (opened_at_us);
",
];

/// The SQLite state store (see the [module documentation](self)). Cheap to clone: clones
/// share the connection.
#[derive(Debug, Clone)]
pub struct SqliteStateStore {
    conn: Arc<Mutex<Connection>>,
    location: String,
}

impl SqliteStateStore {
    /// Opens (creating when absent) the store at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] when the file cannot be opened or was written by a
    /// newer schema, [`RepositoryError::Corrupt`] when it is not a SQLite database,
    /// [`RepositoryError::Unavailable`] when it stays locked.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, RepositoryError> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        let at = location.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path).map_err(|e| map_err(&at, e))?;
            prepare(conn, &at)
        })
        .await
        .map_err(|e| RepositoryError::unavailable("sqlite", format!("opening {location}: {e}")))??;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), location })
    }

    /// A private in-memory store (tests, dry runs); it vanishes when the last clone is dropped.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when SQLite cannot allocate it.
    pub async fn open_in_memory() -> Result<Self, RepositoryError> {
        let location = ":memory:".to_string();
        let at = location.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
            let conn = Connection::open_in_memory_with_flags(flags).map_err(|e| map_err(&at, e))?;
            prepare(conn, &at)
        })
        .await
        .map_err(|e| RepositoryError::unavailable("sqlite", format!("opening {location}: {e}")))??;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), location })
    }

    /// The file path, or `:memory:`.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, RepositoryError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic mid-call drops its transaction (rolled back), so the connection is sound.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| RepositoryError::unavailable("sqlite", format!("the blocking task failed: {e}")))?
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, committed only when `f` succeeds.
    async fn write<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, RepositoryError> + Send + 'static,
    {
        let at = self.location.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| map_err(&at, e))?;
            let out = f(&tx)?;
            tx.commit().map_err(|e| map_err(&at, e))?;
            Ok(out)
        })
        .await
    }

    /// Runs `sql` directly, bypassing every check; unit tests use it to corrupt rows.
    #[cfg(test)]
    async fn execute_raw(&self, sql: &'static str) -> usize {
        self.run(move |c| Ok(c.execute(sql, []).expect("raw sql"))).await.expect("raw sql")
    }
}

/// Sets the pragmas and applies the missing migrations.
fn prepare(mut conn: Connection, at: &str) -> Result<Connection, RepositoryError> {
    let e = |e| map_err(at, e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
    // `memory` for in-memory databases, which cannot use WAL.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(e)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;").map_err(e)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(e)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);",
    )
    .map_err(e)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(e)?;
    if current > SCHEMA_VERSION {
        return Err(RepositoryError::Misconfigured {
            backend: "sqlite".into(),
            detail: format!("{at} has schema version {current}, this build knows up to {SCHEMA_VERSION}; upgrade axia"),
        });
    }
    for (version, sql) in (1..).zip(MIGRATIONS) {
        if version <= current {
            continue;
        }
        tx.execute_batch(sql).map_err(e)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, Utc::now().to_rfc3339()),
        )
        .map_err(e)?;
    }
    tx.commit().map_err(e)?;
    Ok(conn)
}

/// Maps a SQLite error to the port's error: locks and I/O are retryable, a damaged file is
/// corrupt, a file that cannot be opened or written needs an operator.
fn map_err(at: &str, e: rusqlite::Error) -> RepositoryError {
    let code = e.sqlite_error_code();
    match code {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => RepositoryError::corrupt(at, e),
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::DiskFull
            | ErrorCode::AuthorizationForStatementDenied,
        ) => RepositoryError::Misconfigured { backend: "sqlite".into(), detail: format!("{at}: {e}") },
        Some(ErrorCode::ConstraintViolation) => {
            RepositoryError::Conflict { what: at.to_string(), detail: e.to_string() }
        }
        _ => RepositoryError::unavailable("sqlite", format!("{at}: {e}")),
    }
}

/// The error of a statement on `tx`, naming the store's location.
fn sql_err(e: rusqlite::Error) -> RepositoryError {
    map_err("sqlite state store", e)
}

/// The JSON document of a domain value.
fn encode<T: Serialize>(what: &str, value: &T) -> Result<String, RepositoryError> {
    serde_json::to_string(value)
        .map_err(|e| RepositoryError::Invalid { detail: format!("{what} cannot be encoded: {e}") })
}

/// Decodes a stored document; a failure is [`RepositoryError::Corrupt`] naming the row.
fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, RepositoryError> {
    serde_json::from_str(doc).map_err(|e| RepositoryError::corrupt(what, e))
}

/// Epoch microseconds, the sortable time columns.
fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored version as `u64`; a negative one is corrupt.
fn stored_version(what: &str, v: i64) -> Result<u64, RepositoryError> {
    u64::try_from(v).map_err(|_| RepositoryError::corrupt(what, format!("negative version {v}")))
}

/// A version as the `INTEGER` column holds it.
fn sql_version(what: &str, v: u64) -> Result<i64, RepositoryError> {
    i64::try_from(v).map_err(|_| RepositoryError::Invalid { detail: format!("{what}: version {v} is too large") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_open_creates_schema_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStateStore::open(&path).await.unwrap();
        let mode: String =
            store.run(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(sql_err)).await.unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        let store = SqliteStateStore::open(&path).await.unwrap();
        let versions: Vec<i64> = store
            .run(|c| {
                let mut st = c.prepare("SELECT version FROM schema_migrations").map_err(sql_err)?;
                let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
            .unwrap();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn sqlite_refuses_a_newer_schema_a_non_database_and_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStateStore::open(&path).await.unwrap();
        store.execute_raw("INSERT INTO schema_migrations VALUES (99, 'future')").await;
        drop(store);
        let err = SqliteStateStore::open(&path).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Misconfigured { .. }), "{err:?}");

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let err = SqliteStateStore::open(&junk).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Corrupt { .. }), "{err:?}");

        let err = SqliteStateStore::open(dir.path().join("missing").join("state.db")).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Misconfigured { .. }), "{err:?}");
    }
}
