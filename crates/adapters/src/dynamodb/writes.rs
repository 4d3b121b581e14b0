//! Conditional writes: one item with PutItem / UpdateItem, several with one TransactWriteItems
//! (all or nothing). A failed condition names the item and why, from the stored item DynamoDB
//! returns with the failure.

use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use axia_domain::ports::RepositoryError;

use super::error::{Cancelled, Op, cancellation};
use super::items::{Condition, Expr, Item};
use super::{BACKEND, DynamoStateStore};

/// Attempts of a transaction cancelled by another transaction or by throttling.
const TRANSACTION_ATTEMPTS: u32 = 3;
/// The first pause before such a transaction is tried again; it doubles.
const TRANSACTION_BACKOFF: Duration = Duration::from_millis(20);

/// What a write does to its item.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// Replace the whole item.
    Put(Item),
    /// Apply an update expression to the item at `key` (creating it when absent).
    Update {
        /// The item's key.
        key: Item,
        /// The update expression with its names and values.
        update: Expr,
    },
}

/// One conditional write.
#[derive(Debug, Clone)]
pub(super) struct Write {
    /// The item, for messages (`order c-1`).
    pub(super) what: String,
    pub(super) change: Change,
    pub(super) condition: Condition,
}

impl Write {
    pub(super) fn put(what: impl Into<String>, item: Item, condition: Condition) -> Self {
        Self { what: what.into(), change: Change::Put(item), condition }
    }

    /// The condition merged with the update expression's names and values.
    fn expressions(&self) -> (Option<String>, Expr) {
        let cond = self.condition.expr();
        let mut all = match &self.change {
            Change::Put(_) => Expr::default(),
            Change::Update { update, .. } => update.clone(),
        };
        let text = cond.map(|c| {
            all.names.extend(c.names);
            all.values.extend(c.values);
            c.text
        });
        (text, all)
    }
}

/// Why a write did not apply.
#[derive(Debug)]
pub(super) enum WriteFailure {
    /// Write `index` failed its condition; `old` is the stored item, if any. Nothing was written.
    Condition { index: usize, old: Option<Item> },
    /// Anything else.
    Other(RepositoryError),
}

impl DynamoStateStore {
    /// Applies `writes` atomically; a failed condition is a [`RepositoryError::Conflict`] naming
    /// the item and why.
    pub(super) async fn write(&self, writes: &[Write]) -> Result<(), RepositoryError> {
        match self.try_write(writes).await {
            Ok(()) => Ok(()),
            Err(WriteFailure::Condition { index, old }) => {
                let w = &writes[index];
                Err(RepositoryError::Conflict { what: w.what.clone(), detail: w.condition.explain(old.as_ref()) })
            }
            Err(WriteFailure::Other(e)) => Err(e),
        }
    }

    /// Applies `writes` atomically, reporting a failed condition with the stored item.
    pub(super) async fn try_write(&self, writes: &[Write]) -> Result<(), WriteFailure> {
        match writes {
            [] => Ok(()),
            [one] => self.write_one(one).await,
            many => self.transact(many).await,
        }
    }

    async fn write_one(&self, w: &Write) -> Result<(), WriteFailure> {
        let (condition, expr) = w.expressions();
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        match &w.change {
            Change::Put(item) => {
                let sent = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(all_old)
                    .send()
                    .await;
                match sent {
                    Ok(_) => Ok(()),
                    Err(e) => match e.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(c)) => {
                            Err(WriteFailure::Condition { index: 0, old: c.item().cloned() })
                        }
                        _ => Err(WriteFailure::Other(self.map_err(&e, Op::PutItem, &w.what))),
                    },
                }
            }
            Change::Update { key, update } => {
                let sent = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key.clone()))
                    .update_expression(&update.text)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(all_old)
                    .send()
                    .await;
                match sent {
                    Ok(_) => Ok(()),
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                            Err(WriteFailure::Condition { index: 0, old: c.item().cloned() })
                        }
                        _ => Err(WriteFailure::Other(self.map_err(&e, Op::UpdateItem, &w.what))),
                    },
                }
            }
        }
    }

    /// One TransactWriteItems. A cancellation by another transaction or by throttling is
    /// tried again a few times (the SDK does not retry cancellations); a failed condition never.
    async fn transact(&self, writes: &[Write]) -> Result<(), WriteFailure> {
        let items = writes.iter().map(|w| self.transact_item(w)).collect::<Result<Vec<_>, _>>()?;
        let what = writes.iter().map(|w| w.what.as_str()).collect::<Vec<_>>().join(", ");
        let mut attempt = 1;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let Err(e) = sent else {
                return Ok(());
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = e.as_service_error() else {
                return Err(WriteFailure::Other(self.map_err(&e, Op::TransactWrite, &what)));
            };
            let reasons: Vec<_> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| (r.code().map(str::to_string), r.message().map(str::to_string), r.item().cloned()))
                .collect();
            tracing::debug!(table = %self.table, what, attempt, ?reasons, "DynamoDB transaction cancelled");
            match cancellation(&reasons) {
                Cancelled::Condition { index, old } if index < writes.len() => {
                    return Err(WriteFailure::Condition { index, old });
                }
                Cancelled::Condition { .. } => {
                    return Err(WriteFailure::Other(RepositoryError::Conflict {
                        what,
                        detail: "a condition failed (the server named no known item)".into(),
                    }));
                }
                Cancelled::Transient(_) if attempt < TRANSACTION_ATTEMPTS => {
                    tokio::time::sleep(TRANSACTION_BACKOFF * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                Cancelled::Transient(detail) => {
                    return Err(WriteFailure::Other(RepositoryError::Unavailable {
                        backend: BACKEND.into(),
                        detail: format!("writing {what}, try again ({attempt} attempts): {detail}"),
                    }));
                }
                Cancelled::Rejected(detail) => {
                    return Err(WriteFailure::Other(RepositoryError::Invalid {
                        detail: format!("writing {what}: {detail}"),
                    }));
                }
            }
        }
    }

    fn transact_item(&self, w: &Write) -> Result<TransactWriteItem, WriteFailure> {
        let (condition, expr) = w.expressions();
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        let built = |e: aws_smithy_types::error::operation::BuildError| {
            WriteFailure::Other(RepositoryError::Invalid { detail: format!("{}: {e}", w.what) })
        };
        let item = match &w.change {
            Change::Put(item) => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(all_old)
                    .build()
                    .map_err(built)?,
            ),
            Change::Update { key, update } => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.clone()))
                    .update_expression(&update.text)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(all_old)
                    .build()
                    .map_err(built)?,
            ),
        };
        Ok(item.build())
    }
}
