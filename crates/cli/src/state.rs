//! The state store of `[state]` (SQLite file or DynamoDB table) and its four ports, opened only
//! by the commands that need it: `axia collect` and the data tools never touch it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use axia_adapters::dynamodb::{DynamoSettings, DynamoStateStore, TableSetup};
use axia_adapters::sqlite::SqliteStateStore;
use axia_domain::ports::{KillSwitchRepository, OrderRepository, PositionRepository, TradeRepository};

use crate::config::StateBackend;

/// The concrete store, for what only it can do (`axia init`).
#[derive(Debug, Clone)]
#[allow(dead_code)] // the SQLite store is read by the order tools of later issues
pub enum StateStore {
    /// The embedded SQLite file.
    Sqlite(SqliteStateStore),
    /// The DynamoDB single table.
    DynamoDb(DynamoStateStore),
}

/// The state store and its ports, as `Arc<dyn …>` for the use cases (kill switch, order daemon,
/// order and position listings).
#[derive(Debug, Clone)]
pub struct StateStores {
    /// Where it is: `sqlite:///abs/path/state.db` or `dynamodb://table`.
    pub location: String,
    /// The concrete store.
    pub store: StateStore,
    /// The kill switch.
    pub kill_switch: Arc<dyn KillSwitchRepository>,
    /// Orders.
    pub orders: Arc<dyn OrderRepository>,
    /// Positions.
    pub positions: Arc<dyn PositionRepository>,
    /// Trades.
    #[allow(dead_code)] // no command reads trades yet (a trade listing comes with reporting)
    pub trades: Arc<dyn TradeRepository>,
}

/// What `axia init` found or created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSetup {
    /// Whether the file or table was created now.
    pub created: bool,
    /// DynamoDB: whether this call switched TTL on (`false`: it was on already; `None` for
    /// SQLite, which has no TTL). Either way TTL is on afterwards.
    pub ttl_switched_on: Option<bool>,
}

impl StateStores {
    fn new<S>(location: String, store: StateStore, ports: &Arc<S>) -> Self
    where
        S: KillSwitchRepository + OrderRepository + PositionRepository + TradeRepository + 'static,
    {
        Self {
            location,
            store,
            kill_switch: Arc::clone(ports) as Arc<dyn KillSwitchRepository>,
            orders: Arc::clone(ports) as Arc<dyn OrderRepository>,
            positions: Arc::clone(ports) as Arc<dyn PositionRepository>,
            trades: Arc::clone(ports) as Arc<dyn TradeRepository>,
        }
    }

    /// Opens the store of `backend`. A SQLite file that does not exist yet is *not* created
    /// (only `axia init` creates it), so a mistyped path reads as uninitialised, not as an empty
    /// store; DynamoDB is not contacted until the first call.
    ///
    /// # Errors
    /// The file is missing or unusable, or the DynamoDB client cannot be built; the message
    /// names what to check.
    pub async fn open(backend: &StateBackend) -> anyhow::Result<Self> {
        match backend {
            StateBackend::Sqlite(path) => {
                if !tokio::fs::try_exists(path).await.unwrap_or(false) {
                    let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                    return Err(anyhow!(
                        "the state store {} does not exist: run `axia init` to create it ([state] sqlite_path)",
                        shown.display()
                    ));
                }
                open_sqlite(path).await
            }
            StateBackend::DynamoDb { .. } => open_dynamo(backend).await,
        }
    }

    /// Opens the store of `backend`, creating the SQLite file (and its directory) or the
    /// DynamoDB table with its indexes and TTL when missing. Idempotent.
    ///
    /// # Errors
    /// The store cannot be created; the message names what to check.
    pub async fn create(backend: &StateBackend) -> anyhow::Result<(Self, StateSetup)> {
        match backend {
            StateBackend::Sqlite(path) => {
                let existed = tokio::fs::try_exists(path).await.unwrap_or(false);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.with_context(|| {
                        format!(
                            "cannot create the directory of the state store {} ([state] sqlite_path)",
                            path.display()
                        )
                    })?;
                }
                let stores = open_sqlite(path).await?;
                Ok((stores, StateSetup { created: !existed, ttl_switched_on: None }))
            }
            StateBackend::DynamoDb { .. } => {
                let stores = open_dynamo(backend).await?;
                let StateStore::DynamoDb(table) = &stores.store else { unreachable!("a DynamoDB store") };
                let TableSetup { created, ttl_enabled } = table
                    .ensure_table()
                    .await
                    .map_err(|e| anyhow!("cannot set up the state table {}: {e}", table.table()))?;
                Ok((stores, StateSetup { created, ttl_switched_on: Some(ttl_enabled) }))
            }
        }
    }
}

async fn open_sqlite(path: &Path) -> anyhow::Result<StateStores> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let store = SqliteStateStore::open(&absolute)
        .await
        .map_err(|e| anyhow!("cannot open the state store ([state] sqlite_path): {e}"))?;
    let location = format!("sqlite://{}", absolute.display());
    Ok(StateStores::new(location, StateStore::Sqlite(store.clone()), &Arc::new(store)))
}

async fn open_dynamo(backend: &StateBackend) -> anyhow::Result<StateStores> {
    let StateBackend::DynamoDb { table, region, endpoint_url } = backend else {
        unreachable!("called for the DynamoDB backend only")
    };
    let settings =
        DynamoSettings { region: region.clone(), endpoint_url: endpoint_url.clone(), ..DynamoSettings::new(table) };
    let store = DynamoStateStore::new(settings).await.map_err(|e| anyhow!("[state] dynamodb_table {table}: {e}"))?;
    let location = format!("dynamodb://{}", store.table());
    Ok(StateStores::new(location, StateStore::DynamoDb(store.clone()), &Arc::new(store)))
}
