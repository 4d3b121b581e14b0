//! The DynamoDB state store: kill switch, orders, positions and trades in ONE table (seed 003
//! §3.8.2, ADR 0009).
//!
//! [`DynamoStateStore`] implements [`KillSwitchRepository`], [`OrderRepository`],
//! [`PositionRepository`] and [`TradeRepository`] with the semantics of the embedded
//! [`SqliteStateStore`](crate::sqlite::SqliteStateStore): versioned conditional writes, order
//! updates guarded by the life cycle, executions written in one transaction at most once, and
//! kill-switch changes written together with their audit record.
//!
//! # Layout
//!
//! Every item has `pk`/`sk`, `item_type`, `version`, `created_utc`, `last_updated_utc` and `doc`
//! (the domain value as JSON, decimals as strings, so exact), plus the attributes that its
//! conditions and indexes need. The key and index layout is in ADR 0009 (`keys.rs` builds it).
//!
//! # Consistency
//!
//! Reads by key (`get`, `for_order`, `for_position`, `history`) are strongly consistent. Lists
//! read global secondary indexes, which AWS updates asynchronously: a list may lag a write by a
//! fraction of a second.
//!
//! # Errors
//!
//! SDK errors never leave the module: `error.rs` classifies them in one place (conditions →
//! `Conflict`, throttling / 5xx / timeouts / connection failures → `Unavailable`, a missing
//! table or refused credentials → `Misconfigured` saying what to check).
//!
//! [`KillSwitchRepository`]: axia_domain::ports::KillSwitchRepository
//! [`OrderRepository`]: axia_domain::ports::OrderRepository
//! [`PositionRepository`]: axia_domain::ports::PositionRepository
//! [`TradeRepository`]: axia_domain::ports::TradeRepository

mod error;
mod items;
mod keys;
mod kill_switch;
mod orders;
mod positions;
mod table;
mod trades;
mod writes;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use axia_domain::ports::RepositoryError;

use self::error::Op;
use self::items::Item;
pub use self::table::TableSetup;
use crate::aws;

/// The backend name in errors.
const BACKEND: &str = "dynamodb";

/// Where and how to reach the table; credentials come from the AWS default chain (env,
/// profile, SSO, instance or task role), never from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoSettings {
    /// The table.
    pub table: String,
    /// AWS region; `None` takes the default chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Another endpoint than AWS (a local test server).
    pub endpoint_url: Option<String>,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest time of one operation, retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (throttling and transient failures are
    /// retried with backoff; conditional-check failures never are; 0 counts as 1).
    pub max_attempts: u32,
}

impl DynamoSettings {
    /// Settings for `table`, default region and endpoint, a 3.1 s connect timeout (the SDK's),
    /// a 30 s operation timeout and 3 attempts (the SDK's standard retry mode).
    #[must_use]
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_millis(3100),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// The DynamoDB state store (see the [module documentation](self)). Cheap to clone: clones
/// share the client.
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: Client,
    table: String,
    /// The endpoint as messages name it.
    endpoint: String,
    /// The region as messages name it.
    region: String,
    /// `Limit` of every Query page; `None` lets DynamoDB fill 1 MB pages.
    page_size: Option<i32>,
}

impl DynamoStateStore {
    /// Loads the AWS configuration (the default credential chain and region, overridden by
    /// `settings`) and builds a store over it. Nothing is sent yet: credentials are resolved on
    /// the first request, and their absence is reported then.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] without a table name or a region.
    pub async fn new(settings: DynamoSettings) -> Result<Self, RepositoryError> {
        let sdk_config = aws::sdk_config(&aws::client_settings!(settings)).await;
        let mut store = Self::from_client(Client::new(&sdk_config), settings.table)?;
        if let Some(url) = settings.endpoint_url {
            store.endpoint = url;
        }
        Ok(store)
    }

    /// A store over a client built elsewhere (messages then name the region's AWS endpoint).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_client(client: Client, table: impl Into<String>) -> Result<Self, RepositoryError> {
        let table = table.into();
        let misconfigured = |detail: String| RepositoryError::Misconfigured { backend: BACKEND.into(), detail };
        if table.is_empty() {
            return Err(misconfigured("no DynamoDB table is configured".into()));
        }
        let Some(region) = client.config().region().map(ToString::to_string) else {
            return Err(misconfigured(format!(
                "no AWS region for the DynamoDB table {table}: set the region in the state settings or AWS_REGION \
                 (or `region` in the AWS profile)"
            )));
        };
        let endpoint = format!("https://dynamodb.{region}.amazonaws.com");
        Ok(Self { client, table, endpoint, region, page_size: None })
    }

    /// Items per Query page (at least 1), to bound a page or to exercise pagination in tests.
    #[doc(hidden)]
    #[must_use]
    pub fn with_page_size(mut self, items: u16) -> Self {
        self.page_size = Some(i32::from(items.max(1)));
        self
    }

    /// The table.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs `query` page after page (following `LastEvaluatedKey`) until it is exhausted or
    /// `max` items were collected.
    async fn query_all(
        &self,
        query: QueryFluentBuilder,
        max: Option<usize>,
        what: &str,
    ) -> Result<Vec<Item>, RepositoryError> {
        let mut items: Vec<Item> = Vec::new();
        if max == Some(0) {
            // DynamoDB refuses `Limit = 0`.
            return Ok(items);
        }
        let mut start: Option<Item> = None;
        loop {
            let remaining = max.map(|m| i32::try_from(m - items.len()).unwrap_or(i32::MAX));
            let limit = match (self.page_size, remaining) {
                (Some(p), Some(r)) => Some(p.min(r)),
                (p, r) => p.or(r),
            };
            let out = query
                .clone()
                .set_limit(limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.map_err(&e, Op::Query, what))?;
            items.extend(out.items.unwrap_or_default());
            if let Some(m) = max
                && items.len() >= m
            {
                items.truncate(m);
                return Ok(items);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// A Query on the table (`index`: `None`) or on a global secondary index.
    fn query(&self, index: Option<&str>) -> QueryFluentBuilder {
        let q = self.client.query().table_name(&self.table);
        match index {
            // Indexes cannot be read consistently.
            Some(name) => q.index_name(name),
            None => q.consistent_read(true),
        }
    }
}
