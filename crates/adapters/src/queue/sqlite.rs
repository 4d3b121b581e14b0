//! The embedded order queue: an [`OrderQueue`] in one SQLite file (`<data dir>/queue.db`) with
//! the semantics of an SQS standard queue and its dead-letter queue.
//!
//! # Layout
//!
//! `messages` holds the live messages with the time they become visible (`visible_at_us`, epoch
//! microseconds), their receive count and the receipt of their latest delivery; `dead_letters`
//! holds the dead letters with their reason. `PRAGMA user_version` records the schema version.
//!
//! # Concurrency
//!
//! Every change is one `BEGIN IMMEDIATE` transaction on tokio's blocking pool (WAL mode, busy
//! timeout), so processes sharing the file serialise their receives: a message is handed to one
//! receiver and stays invisible to the others until its visibility timeout ends. A receive with
//! a wait polls cheaply (one indexed query per `poll_interval`, sooner when a message of this
//! process's queue is sent or an invisible one is due). Times are the wall clock: processes
//! sharing a file need clocks that agree.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::ports::{OrderQueue, QueueError, QueueMessage};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;

use super::{DeadLetter, QueueAdmin, QueueDepth, validate_body};

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// How long a statement waits for another process's lock before failing as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most messages one receive returns, as on SQS.
const MAX_BATCH: usize = 10;
/// The longest a receive waits, as on SQS.
const MAX_WAIT: Duration = Duration::from_secs(20);

const SCHEMA: &str = r"
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at_us INTEGER NOT NULL,
    visible_at_us INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX messages_by_visibility ON messages (visible_at_us, seq);
CREATE TABLE dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    original_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    sent_at_us INTEGER NOT NULL,
    dead_at_us INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

/// How the embedded queue behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteQueueSettings {
    /// How long a received message stays invisible (60 s).
    pub visibility_timeout: Duration,
    /// Receives after which the next receive moves a message to the dead letters (5; 0 counts
    /// as 1).
    pub max_receive_count: u32,
    /// How often a waiting receive looks for messages sent by other processes (100 ms).
    pub poll_interval: Duration,
}

impl Default for SqliteQueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// The embedded queue (see the [module documentation](self)). Cheap to clone: clones share the
/// connection.
#[derive(Debug, Clone)]
pub struct SqliteOrderQueue {
    conn: Arc<Mutex<Connection>>,
    location: String,
    settings: SqliteQueueSettings,
    /// Wakes this process's waiting receivers when it sends.
    sent: Arc<Notify>,
}

impl SqliteOrderQueue {
    /// Opens (creating when absent) the queue file at `path`, with the default settings.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when the file cannot be opened, is not a queue of this or an
    /// older schema, or stays locked.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, QueueError> {
        let path = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        let at = location.clone();
        Self::open_with(location, move || Connection::open(&path).map_err(|e| unavailable(&at, &e))).await
    }

    /// A private in-memory queue (tests, dry runs); it vanishes when the last clone is dropped.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when SQLite cannot allocate it.
    pub async fn open_in_memory() -> Result<Self, QueueError> {
        Self::open_with(":memory:".into(), || {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
            Connection::open_in_memory_with_flags(flags).map_err(|e| unavailable(":memory:", &e))
        })
        .await
    }

    async fn open_with<F>(location: String, open: F) -> Result<Self, QueueError>
    where
        F: FnOnce() -> Result<Connection, QueueError> + Send + 'static,
    {
        let at = location.clone();
        let conn = tokio::task::spawn_blocking(move || prepare(open()?, &at))
            .await
            .map_err(|e| QueueError::Unavailable { detail: format!("opening the queue {location}: {e}") })??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            location,
            settings: SqliteQueueSettings::default(),
            sent: Arc::new(Notify::new()),
        })
    }

    /// The same queue with other settings (they apply to this handle's receives).
    #[must_use]
    pub fn with_settings(mut self, settings: SqliteQueueSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings in use.
    #[must_use]
    pub const fn settings(&self) -> &SqliteQueueSettings {
        &self.settings
    }

    /// The file path, or `:memory:`.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on tokio's blocking pool, committed
    /// only when `f` succeeds.
    async fn write<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<T, QueueError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let at = self.location.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-call drops its transaction (rolled back), so the connection is sound.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let tx =
                guard.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| unavailable(&at, &e))?;
            let out = f(&tx, &at)?;
            tx.commit().map_err(|e| unavailable(&at, &e))?;
            Ok(out)
        })
        .await
        .map_err(|e| QueueError::Unavailable { detail: format!("the queue's blocking task failed: {e}") })?
    }

    /// One receive attempt: dead-letters the exhausted visible messages, then takes up to `max`
    /// visible ones. Also returns when the next invisible message becomes visible.
    async fn try_receive(&self, max: usize) -> Result<(Vec<QueueMessage>, Option<i64>), QueueError> {
        let settings = self.settings;
        self.write(move |tx, at| {
            let e = |e: rusqlite::Error| unavailable(at, &e);
            let now = now_us();
            let limit = i64::from(settings.max_receive_count.max(1));
            let reason = format!("received {limit} times without being deleted (max_receive_count {limit})");
            tx.execute(
                "INSERT INTO dead_letters (original_id, body, reason, receive_count, sent_at_us, dead_at_us)
                 SELECT id, body, ?1, receive_count, sent_at_us, ?2 FROM messages
                 WHERE visible_at_us <= ?2 AND receive_count >= ?3 ORDER BY seq",
                params![reason, now, limit],
            )
            .map_err(e)?;
            tx.execute("DELETE FROM messages WHERE visible_at_us <= ?1 AND receive_count >= ?2", params![now, limit])
                .map_err(e)?;
            let mut taken = Vec::new();
            {
                let mut select = tx
                    .prepare(
                        "SELECT seq, id, body, receive_count FROM messages WHERE visible_at_us <= ?1
                         ORDER BY visible_at_us, seq LIMIT ?2",
                    )
                    .map_err(e)?;
                let rows = select
                    .query_map(params![now, i64::try_from(max).unwrap_or(i64::MAX)], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
                    })
                    .map_err(e)?;
                for row in rows {
                    taken.push(row.map_err(e)?);
                }
            }
            let visible_at = now.saturating_add(micros(settings.visibility_timeout));
            let mut out = Vec::with_capacity(taken.len());
            for (seq, id, body, count) in taken {
                let receipt = uuid::Uuid::new_v4().simple().to_string();
                tx.execute(
                    "UPDATE messages SET receive_count = receive_count + 1, visible_at_us = ?1, receipt = ?2
                     WHERE seq = ?3",
                    params![visible_at, receipt, seq],
                )
                .map_err(e)?;
                let receive_count = u32::try_from(count + 1).unwrap_or(u32::MAX);
                out.push(QueueMessage { id, receipt, body, receive_count });
            }
            let next: Option<i64> =
                tx.query_row("SELECT MIN(visible_at_us) FROM messages", [], |r| r.get(0)).map_err(e)?;
            Ok((out, next))
        })
        .await
    }

    /// Runs `f` on the row of `message`'s latest delivery; [`QueueError::StaleReceipt`] when
    /// the receipt is not the latest one (redelivered, deleted or dead-lettered).
    async fn with_current<T, F>(&self, message: &QueueMessage, what: &'static str, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, &str, i64) -> Result<T, QueueError> + Send + 'static,
    {
        let (id, receipt) = (message.id.clone(), message.receipt.clone());
        self.write(move |tx, at| {
            let seq: Option<i64> = tx
                .query_row("SELECT seq FROM messages WHERE id = ?1 AND receipt = ?2", params![id, receipt], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| unavailable(at, &e))?;
            let Some(seq) = seq else {
                return Err(QueueError::StaleReceipt {
                    detail: format!(
                        "cannot {what} message {id} in {at}: it was redelivered, deleted or dead-lettered since \
                         this receipt was issued"
                    ),
                });
            };
            f(tx, at, seq)
        })
        .await
    }
}

/// Sets the pragmas and creates the schema of a new file.
fn prepare(mut conn: Connection, at: &str) -> Result<Connection, QueueError> {
    let e = |e: rusqlite::Error| unavailable(at, &e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
    // `memory` for in-memory databases, which cannot use WAL.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(e)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;").map_err(e)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(e)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(e)?;
    if version > SCHEMA_VERSION {
        return Err(QueueError::Unavailable {
            detail: format!(
                "{at} has queue schema version {version}, this build knows up to {SCHEMA_VERSION}; upgrade axia"
            ),
        });
    }
    if version == 0 {
        tx.execute_batch(SCHEMA).map_err(e)?;
    }
    tx.commit().map_err(e)?;
    Ok(conn)
}

/// SQLite failures are all reported as unavailable, naming the file: locks and I/O pass, and a
/// damaged or unwritable file needs an operator either way.
fn unavailable(at: &str, e: &rusqlite::Error) -> QueueError {
    QueueError::Unavailable { detail: format!("the embedded queue {at}: {e}") }
}

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

#[async_trait]
impl OrderQueue for SqliteOrderQueue {
    async fn send(&self, body: &str) -> Result<String, QueueError> {
        validate_body(body)?;
        let id = uuid::Uuid::new_v4().to_string();
        let (row_id, body) = (id.clone(), body.to_string());
        self.write(move |tx, at| {
            let now = now_us();
            tx.execute(
                "INSERT INTO messages (id, body, sent_at_us, visible_at_us) VALUES (?1, ?2, ?3, ?3)",
                params![row_id, body, now],
            )
            .map_err(|e| unavailable(at, &e))?;
            Ok(())
        })
        .await?;
        self.sent.notify_waiters();
        Ok(id)
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            // Registered before looking, so a send in between still wakes this receiver.
            let sent = self.sent.notified();
            tokio::pin!(sent);
            sent.as_mut().enable();
            let (messages, next_visible_us) = self.try_receive(max).await?;
            let now = tokio::time::Instant::now();
            if !messages.is_empty() || now >= deadline {
                return Ok(messages);
            }
            let mut pause = self.settings.poll_interval.max(Duration::from_millis(1));
            if let Some(due) = next_visible_us {
                let until_due = u64::try_from(due.saturating_sub(now_us())).unwrap_or_default();
                pause = pause.min(Duration::from_micros(until_due) + Duration::from_millis(1));
            }
            let wake = deadline.min(now + pause);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = &mut sent => {}
            }
        }
    }

    async fn extend(&self, message: &QueueMessage, by: Duration) -> Result<(), QueueError> {
        self.with_current(message, "extend", move |tx, at, seq| {
            let visible_at = now_us().saturating_add(micros(by));
            tx.execute("UPDATE messages SET visible_at_us = ?1 WHERE seq = ?2", params![visible_at, seq])
                .map_err(|e| unavailable(at, &e))?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.with_current(message, "delete", |tx, at, seq| {
            tx.execute("DELETE FROM messages WHERE seq = ?1", params![seq]).map_err(|e| unavailable(at, &e))?;
            Ok(())
        })
        .await
    }

    async fn dead_letter(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        let reason = reason.to_string();
        self.with_current(message, "dead-letter", move |tx, at, seq| {
            let e = |e: rusqlite::Error| unavailable(at, &e);
            tx.execute(
                "INSERT INTO dead_letters (original_id, body, reason, receive_count, sent_at_us, dead_at_us)
                 SELECT id, body, ?1, receive_count, sent_at_us, ?2 FROM messages WHERE seq = ?3",
                params![reason, now_us(), seq],
            )
            .map_err(e)?;
            tx.execute("DELETE FROM messages WHERE seq = ?1", params![seq]).map_err(e)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl QueueAdmin for SqliteOrderQueue {
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.write(|tx, at| {
            tx.query_row(
                "SELECT (SELECT COUNT(*) FROM messages WHERE visible_at_us <= ?1),
                        (SELECT COUNT(*) FROM messages WHERE visible_at_us > ?1),
                        (SELECT COUNT(*) FROM dead_letters)",
                params![now_us()],
                |r| Ok(QueueDepth { visible: count(r.get(0)?), in_flight: count(r.get(1)?), dead: count(r.get(2)?) }),
            )
            .map_err(|e| unavailable(at, &e))
        })
        .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx, at| {
            let e = |e: rusqlite::Error| unavailable(at, &e);
            let mut select = tx
                .prepare(
                    "SELECT original_id, body, reason, receive_count, dead_at_us FROM dead_letters
                     ORDER BY seq LIMIT ?1",
                )
                .map_err(e)?;
            let rows = select
                .query_map(params![limit], |r| {
                    Ok(DeadLetter {
                        original_id: Some(r.get(0)?),
                        body: r.get(1)?,
                        reason: Some(r.get(2)?),
                        receive_count: Some(u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX)),
                        dead_lettered_at: DateTime::from_timestamp_micros(r.get(4)?),
                    })
                })
                .map_err(e)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(e)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn queue(visibility_ms: u64, max_receive_count: u32) -> SqliteOrderQueue {
        let settings = SqliteQueueSettings {
            visibility_timeout: Duration::from_millis(visibility_ms),
            max_receive_count,
            poll_interval: Duration::from_millis(20),
        };
        SqliteOrderQueue::open_in_memory().await.unwrap().with_settings(settings)
    }

    #[tokio::test]
    async fn a_waiting_receive_wakes_on_a_send() {
        let q = queue(60_000, 5).await;
        let sender = q.clone();
        let started = std::time::Instant::now();
        let (got, _) = tokio::join!(q.receive(10, Duration::from_secs(10)), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send("late").await.unwrap()
        });
        assert_eq!(got.unwrap().len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5), "woke at once, not at the end of the wait");
    }

    #[tokio::test]
    async fn exhausted_message_moves_on_the_next_receive_with_a_reason() {
        let q = queue(30, 2).await;
        let id = q.send("poison").await.unwrap();
        for n in 1..=2 {
            let got = q.receive(1, Duration::from_secs(2)).await.unwrap();
            assert_eq!(got[0].receive_count, n);
        }
        assert!(q.receive(1, Duration::from_millis(100)).await.unwrap().is_empty());
        let dead = q.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].original_id.as_deref(), Some(id.as_str()));
        assert_eq!(dead[0].receive_count, Some(2));
        assert!(dead[0].reason.as_deref().unwrap_or_default().contains("max_receive_count 2"), "{dead:?}");
        assert_eq!(q.depth().await.unwrap(), QueueDepth { visible: 0, in_flight: 0, dead: 1 });
    }

    #[tokio::test]
    async fn a_newer_file_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        drop(SqliteOrderQueue::open(&path).await.unwrap());
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99;").unwrap();
        let err = SqliteOrderQueue::open(&path).await.unwrap_err();
        assert!(err.to_string().contains("upgrade axia"), "{err}");
    }
}
