//! Creating and checking the table (`axia init`): `pk`/`sk`, GSI1–GSI5, on-demand billing, TTL
//! on `ttl`.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_smithy_types::error::operation::BuildError;
use axia_domain::ports::RepositoryError;

use super::error::Op;
use super::keys::{INDEXES, PK, PROJECTED, SK, TTL};
use super::{BACKEND, DynamoStateStore};

/// Longest wait for a new table and its indexes to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause between two DescribeTable calls while waiting.
const POLL: Duration = Duration::from_millis(250);

/// What [`DynamoStateStore::ensure_table`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSetup {
    /// The table was created by this call.
    pub created: bool,
    /// TTL on `ttl` was switched on by this call.
    pub ttl_enabled: bool,
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` wants
fn built(e: BuildError) -> RepositoryError {
    RepositoryError::Invalid { detail: format!("the table definition cannot be built: {e}") }
}

fn key_element(name: &str, key_type: &KeyType) -> Result<KeySchemaElement, RepositoryError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type.clone()).build().map_err(built)
}

/// The differences between `table` and the layout this store writes, empty when it fits.
/// Extra indexes and projections wider than needed are fine.
fn layout_differences(table: &TableDescription) -> Vec<String> {
    let mut diffs = Vec::new();
    let keys_of = |schema: &[KeySchemaElement]| -> Vec<(String, String)> {
        schema.iter().map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string())).collect()
    };
    let want = |hash: &str, range: &str| {
        vec![(hash.to_string(), "HASH".to_string()), (range.to_string(), "RANGE".to_string())]
    };
    let types: Vec<(&str, &str)> =
        table.attribute_definitions().iter().map(|a| (a.attribute_name(), a.attribute_type().as_str())).collect();
    let check_types = |names: [&str; 2], diffs: &mut Vec<String>| {
        for name in names {
            match types.iter().find(|(n, _)| *n == name) {
                Some((_, "S")) | None => {}
                Some((_, other)) => diffs.push(format!("attribute {name} has type {other}, expected S")),
            }
        }
    };
    let keys = keys_of(table.key_schema());
    if keys != want(PK, SK) {
        diffs.push(format!("the key schema is {keys:?}, expected pk HASH and sk RANGE"));
    }
    check_types([PK, SK], &mut diffs);
    for (name, pk, sk) in INDEXES {
        let Some(index) = table.global_secondary_indexes().iter().find(|i| i.index_name() == Some(name)) else {
            diffs.push(format!("the index {name} is missing"));
            continue;
        };
        let keys = keys_of(index.key_schema());
        if keys != want(pk, sk) {
            diffs.push(format!("index {name} has keys {keys:?}, expected {pk} HASH and {sk} RANGE"));
        }
        check_types([pk, sk], &mut diffs);
        let projection = index.projection();
        match projection.and_then(Projection::projection_type) {
            Some(ProjectionType::All) => {}
            Some(ProjectionType::Include) => {
                let have = projection.map(Projection::non_key_attributes).unwrap_or_default();
                let missing: Vec<&str> = PROJECTED.into_iter().filter(|a| !have.iter().any(|h| h == a)).collect();
                if !missing.is_empty() {
                    diffs.push(format!("index {name} does not project {}", missing.join(", ")));
                }
            }
            other => {
                diffs.push(format!("index {name} projects {other:?}, expected INCLUDE of {}", PROJECTED.join(", ")));
            }
        }
    }
    diffs
}

/// Whether the table and all its indexes are active.
fn is_active(table: &TableDescription) -> bool {
    table.table_status() == Some(&TableStatus::Active)
        && table.global_secondary_indexes().iter().all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active))
}

impl DynamoStateStore {
    /// Creates the table when it does not exist (`pk` hash and `sk` range keys, both strings;
    /// GSI1–GSI5 on `gs1pk`/`gs1sk` … `gs5pk`/`gs5sk` projecting the attributes the reads need;
    /// on-demand billing), waits until it and its indexes are active, and switches TTL on
    /// attribute `ttl` on unless it is on. Used by `axia init`; safe to run again.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] when an existing table has another layout (the
    /// message lists the differences), TTL is on another attribute, or the credentials may not
    /// create or describe tables; [`RepositoryError::Unavailable`] when DynamoDB cannot be
    /// reached or the table does not become active in time.
    pub async fn ensure_table(&self) -> Result<TableSetup, RepositoryError> {
        let created = match self.describe().await? {
            Some(existing) => {
                self.check_layout(&existing)?;
                false
            }
            None => self.create_table().await?,
        };
        self.wait_until_active().await?;
        let ttl_enabled = self.ensure_ttl().await?;
        Ok(TableSetup { created, ttl_enabled })
    }

    /// Checks that the table exists (`DescribeTable`, nothing written). Used by
    /// `axia config check`.
    ///
    /// # Errors
    /// [`RepositoryError::Misconfigured`] when the table is missing or the credentials are
    /// refused; [`RepositoryError::Unavailable`] when DynamoDB cannot be reached.
    pub async fn check_table(&self) -> Result<(), RepositoryError> {
        match self.describe().await? {
            Some(_) => Ok(()),
            None => Err(RepositoryError::Misconfigured {
                backend: BACKEND.into(),
                detail: format!(
                    "the DynamoDB table {} does not exist: create it with `axia init`, or check the table name and \
                     region in the state settings",
                    self.table
                ),
            }),
        }
    }

    async fn describe(&self) -> Result<Option<TableDescription>, RepositoryError> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(out) => Ok(out.table),
            Err(e) if matches!(e.as_service_error(), Some(DescribeTableError::ResourceNotFoundException(_))) => {
                Ok(None)
            }
            Err(e) => Err(self.map_err(&e, Op::DescribeTable, &format!("table {}", self.table))),
        }
    }

    fn check_layout(&self, table: &TableDescription) -> Result<(), RepositoryError> {
        let diffs = layout_differences(table);
        if diffs.is_empty() {
            return Ok(());
        }
        Err(RepositoryError::Misconfigured {
            backend: BACKEND.into(),
            detail: format!(
                "the DynamoDB table {} exists but does not have the layout axia needs: {}. Use another table name \
                 in the state settings (`axia init` creates it) or fix the table",
                self.table,
                diffs.join("; ")
            ),
        })
    }

    /// Creates the table; `false` when another process created it first.
    async fn create_table(&self) -> Result<bool, RepositoryError> {
        let attributes = [PK, SK]
            .into_iter()
            .chain(INDEXES.iter().flat_map(|(_, pk, sk)| [*pk, *sk]))
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(built)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let projection = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(PROJECTED.iter().map(ToString::to_string).collect()))
            .build();
        let indexes = INDEXES
            .iter()
            .map(|(name, pk, sk)| {
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .key_schema(key_element(pk, &KeyType::Hash)?)
                    .key_schema(key_element(sk, &KeyType::Range)?)
                    .projection(projection.clone())
                    .build()
                    .map_err(built)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(attributes))
            .key_schema(key_element(PK, &KeyType::Hash)?)
            .key_schema(key_element(SK, &KeyType::Range)?)
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(table = %self.table, "created the DynamoDB table");
                Ok(true)
            }
            Err(e) if matches!(e.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => {
                match self.describe().await? {
                    Some(existing) => self.check_layout(&existing).map(|()| false),
                    None => Err(self.map_err(&e, Op::CreateTable, &format!("table {}", self.table))),
                }
            }
            Err(e) => Err(self.map_err(&e, Op::CreateTable, &format!("table {}", self.table))),
        }
    }

    async fn wait_until_active(&self) -> Result<(), RepositoryError> {
        let deadline = Instant::now() + ACTIVE_TIMEOUT;
        loop {
            match self.describe().await? {
                Some(table) if is_active(&table) => return Ok(()),
                Some(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Some(table) => {
                    return Err(RepositoryError::unavailable(
                        BACKEND,
                        format!(
                            "the DynamoDB table {} is not active after {}s (status {:?}): run `axia init` again later",
                            self.table,
                            ACTIVE_TIMEOUT.as_secs(),
                            table.table_status()
                        ),
                    ));
                }
                None => {
                    return Err(RepositoryError::unavailable(
                        BACKEND,
                        format!("the DynamoDB table {} vanished while it was being created", self.table),
                    ));
                }
            }
        }
    }

    /// Switches TTL on `ttl` on; `false` when it is already on (or being switched on).
    async fn ensure_ttl(&self) -> Result<bool, RepositoryError> {
        let what = format!("the TTL of table {}", self.table);
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.map_err(&e, Op::DescribeTtl, &what))?;
        let description = out.time_to_live_description();
        let status = description.and_then(|d| d.time_to_live_status());
        let attribute = description.and_then(|d| d.attribute_name());
        match status {
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) if attribute == Some(TTL) => Ok(false),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => Err(RepositoryError::Misconfigured {
                backend: BACKEND.into(),
                detail: format!(
                    "TTL of the DynamoDB table {} is on attribute {:?}, but axia expires items by `{TTL}`: switch it \
                     to `{TTL}` (TTL can be on one attribute only) or use another table",
                    self.table,
                    attribute.unwrap_or_default()
                ),
            }),
            _ => {
                let spec =
                    TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL).build().map_err(built)?;
                self.client
                    .update_time_to_live()
                    .table_name(&self.table)
                    .time_to_live_specification(spec)
                    .send()
                    .await
                    .map_err(|e| self.map_err(&e, Op::UpdateTtl, &what))?;
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::GlobalSecondaryIndexDescription;

    use super::*;

    fn index(name: &str, pk: &str, sk: &str, projection: Projection) -> GlobalSecondaryIndexDescription {
        GlobalSecondaryIndexDescription::builder()
            .index_name(name)
            .key_schema(key_element(pk, &KeyType::Hash).unwrap())
            .key_schema(key_element(sk, &KeyType::Range).unwrap())
            .projection(projection)
            .index_status(IndexStatus::Active)
            .build()
    }

    fn table(indexes: Vec<GlobalSecondaryIndexDescription>) -> TableDescription {
        TableDescription::builder()
            .key_schema(key_element(PK, &KeyType::Hash).unwrap())
            .key_schema(key_element(SK, &KeyType::Range).unwrap())
            .set_global_secondary_indexes(Some(indexes))
            .table_status(TableStatus::Active)
            .build()
    }

    fn include(attributes: &[&str]) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attributes.iter().map(ToString::to_string).collect()))
            .build()
    }

    fn ours() -> Vec<GlobalSecondaryIndexDescription> {
        INDEXES.iter().map(|(n, pk, sk)| index(n, pk, sk, include(&PROJECTED))).collect()
    }

    #[test]
    fn the_layout_it_creates_fits() {
        assert!(layout_differences(&table(ours())).is_empty());
        assert!(is_active(&table(ours())));
        let mut all = ours();
        all[0] = index("GSI1", "gs1pk", "gs1sk", Projection::builder().projection_type(ProjectionType::All).build());
        assert!(layout_differences(&table(all)).is_empty(), "a wider projection is fine");
    }

    #[test]
    fn differences_are_named() {
        let mut indexes = ours();
        indexes.remove(4);
        indexes[1] = index("GSI2", "gs2pk", "other", include(&PROJECTED));
        indexes[2] = index("GSI3", "gs3pk", "gs3sk", include(&["doc"]));
        let diffs = layout_differences(&table(indexes)).join("; ");
        assert!(diffs.contains("GSI5 is missing"), "{diffs}");
        assert!(diffs.contains("index GSI2 has keys"), "{diffs}");
        assert!(diffs.contains("GSI3 does not project item_type, version"), "{diffs}");

        let hash_only = TableDescription::builder()
            .key_schema(key_element("id", &KeyType::Hash).unwrap())
            .set_global_secondary_indexes(Some(ours()))
            .build();
        assert!(layout_differences(&hash_only)[0].contains("expected pk HASH and sk RANGE"));
    }
}
