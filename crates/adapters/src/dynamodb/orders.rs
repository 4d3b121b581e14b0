//! [`OrderRepository`] on DynamoDB: one item per order at `ORDER#<client order id>` /
//! `METADATA`, created only when absent (the idempotency guard), updated only from the stored
//! version and from a status the life cycle allows, and listed by status through GSI1 (the
//! `ORDERS#STATUS#<status>` overload of ADR 0009). An execution writes the order, its trade
//! (with two links) and its position in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use axia_domain::ports::{OrderRepository, RepositoryError};
use axia_domain::{ClientOrderId, Order, OrderStatus, Position, Trade};

use super::DynamoStateStore;
use super::error::Op;
use super::items::{Condition, Item, decode, encode, get_s, get_u64, key, n, s};
use super::keys::{
    CREATED, DOC, GSI1, ITEM_TYPE, METADATA, PK, STATUS, UPDATED, VERSION, created_sk, order_pk, orders_pk, ts,
};
use super::positions::position_writes;
use super::trades::trade_writes;
use super::writes::{Write, WriteFailure};
use crate::state_rules::{Guard, check_execution, next_version, transition_allowed};

const ITEM: &str = "Order";

/// Every status, for the per-status lists and the transition guards.
const ALL_STATUSES: [OrderStatus; 7] = [
    OrderStatus::Received,
    OrderStatus::Accepted,
    OrderStatus::Filled,
    OrderStatus::PartiallyFilled,
    OrderStatus::Rejected,
    OrderStatus::Cancelled,
    OrderStatus::Expired,
];

fn what(id: &ClientOrderId) -> String {
    format!("order {id}")
}

/// The stored statuses from which an order may become `to`.
fn allowed_from(to: OrderStatus, guard: Guard) -> Vec<&'static str> {
    ALL_STATUSES.into_iter().filter(|from| transition_allowed(*from, to, guard)).map(OrderStatus::as_str).collect()
}

/// The item of `o`, which already carries its new version.
fn item_of(o: &Order) -> Result<Item, RepositoryError> {
    let id = o.client_order_id().as_str();
    let spec = o.spec();
    let mut item = key(order_pk(id), METADATA);
    item.extend([
        (ITEM_TYPE.to_string(), s(ITEM)),
        (VERSION.to_string(), n(o.version())),
        (CREATED.to_string(), s(ts(o.created_at()))),
        (UPDATED.to_string(), s(ts(o.updated_at()))),
        (DOC.to_string(), encode(&what(o.client_order_id()), o)?),
        ("client_order_id".to_string(), s(id)),
        ("symbol".to_string(), s(spec.symbol.as_str())),
        ("side".to_string(), s(spec.side.as_str())),
        (STATUS.to_string(), s(o.status().as_str())),
        (GSI1.1.to_string(), s(orders_pk(o.status().as_str()))),
        (GSI1.2.to_string(), s(created_sk(o.created_at(), id))),
    ]);
    for (name, value) in [
        ("strategy_id", spec.strategy_id.as_deref()),
        ("signal_id", spec.signal_id.as_deref()),
        ("position_id", o.position_id()),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            item.insert(name.into(), s(v));
        }
    }
    Ok(item)
}

/// Decodes an order item, checking that the document belongs to it.
fn decode_order(item: &Item) -> Result<Order, RepositoryError> {
    let pk = get_s(item, PK, "order item")?;
    let w = format!("order item {pk}");
    let version = get_u64(item, VERSION, &w)?;
    let o: Order = decode(item, &w)?;
    if pk != order_pk(o.client_order_id().as_str()) || o.version() != version {
        return Err(RepositoryError::corrupt(
            w,
            format!(
                "the document is order {} version {}, the item version {version}",
                o.client_order_id(),
                o.version()
            ),
        ));
    }
    Ok(o)
}

/// The write that replaces the stored `order` (at `order.version()`) by its next version.
fn update_write(order: &Order, guard: Guard) -> Result<(Write, Order), RepositoryError> {
    let w = what(order.client_order_id());
    let next = order.clone().with_version(next_version(&w, order.version())?);
    let condition = Condition::VersionAndStatus {
        version: order.version(),
        from: allowed_from(order.status(), guard),
        to: order.status().as_str(),
    };
    Ok((Write::put(w, item_of(&next)?, condition), next))
}

impl DynamoStateStore {
    /// The newest `limit` orders of `status` (GSI1), newest first.
    async fn orders_of(&self, status: OrderStatus, limit: usize) -> Result<Vec<Order>, RepositoryError> {
        let (index, pk_name, _) = GSI1;
        let query = self
            .query(Some(index))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(orders_pk(status.as_str())))
            .scan_index_forward(false);
        let items = self.query_all(query, Some(limit), &format!("{status} orders")).await?;
        items.iter().map(decode_order).collect()
    }
}

#[async_trait]
impl OrderRepository for DynamoStateStore {
    async fn create(&self, order: &Order) -> Result<Order, RepositoryError> {
        let stored = order.clone().with_version(1);
        let w = what(order.client_order_id());
        match self.try_write(&[Write::put(&w, item_of(&stored)?, Condition::Absent)]).await {
            Ok(()) => Ok(stored),
            Err(WriteFailure::Condition { .. }) => {
                Err(RepositoryError::Conflict { what: w, detail: "an order with this client order id exists".into() })
            }
            Err(WriteFailure::Other(e)) => Err(e),
        }
    }

    async fn update(&self, order: &Order) -> Result<Order, RepositoryError> {
        let (write, next) = update_write(order, Guard::Update)?;
        match self.try_write(std::slice::from_ref(&write)).await {
            Ok(()) => Ok(next),
            Err(WriteFailure::Condition { old: None, .. }) => Err(RepositoryError::NotFound { what: write.what }),
            Err(WriteFailure::Condition { old: Some(old), .. }) => {
                Err(RepositoryError::Conflict { detail: write.condition.explain(Some(&old)), what: write.what })
            }
            Err(WriteFailure::Other(e)) => Err(e),
        }
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Order>, RepositoryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(order_pk(id.as_str()), METADATA)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.map_err(&e, Op::GetItem, &what(id)))?;
        out.item.as_ref().map(decode_order).transpose()
    }

    /// `None` reads every status's partition of GSI1 (at most `limit` each) and merges them.
    async fn list(&self, status: Option<OrderStatus>, limit: usize) -> Result<Vec<Order>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let statuses = status.map_or_else(|| ALL_STATUSES.to_vec(), |st| vec![st]);
        let lists = futures::future::try_join_all(statuses.into_iter().map(|st| self.orders_of(st, limit))).await?;
        // An index lags its table: an order that just changed status may show up twice.
        let mut newest: HashMap<ClientOrderId, Order> = HashMap::new();
        for o in lists.into_iter().flatten() {
            match newest.get(o.client_order_id()) {
                Some(seen) if seen.version() >= o.version() => {}
                _ => {
                    newest.insert(o.client_order_id().clone(), o);
                }
            }
        }
        let mut orders: Vec<Order> = newest.into_values().collect();
        orders.sort_by(|a, b| (b.created_at(), b.client_order_id()).cmp(&(a.created_at(), a.client_order_id())));
        orders.truncate(limit);
        Ok(orders)
    }

    /// One transaction: the order (conditional on its version and on a status that may become
    /// filled), the trade and its two links (only when absent), the position (conditional on
    /// its version, or absent). A second execution of the same order fails the order's
    /// condition and writes nothing.
    async fn record_execution(
        &self,
        order: &Order,
        trade: &Trade,
        position: &Position,
    ) -> Result<(Order, Position), RepositoryError> {
        check_execution(order, trade, position)?;
        let (order_write, next_order) = update_write(order, Guard::Execution)?;
        let mut next_position = position.clone();
        next_position.version = next_version(&format!("position {}", position.position_id), position.version)?;
        let mut writes = vec![order_write];
        writes.extend(trade_writes(trade, order.spec().signal_id.as_deref(), &position.position_id)?);
        writes.extend(position_writes(&next_position, position.version)?);
        self.write(&writes).await?;
        Ok((next_order, next_position))
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(OrderStatus::Accepted, Guard::Update, &["received", "accepted"])]
    #[case(OrderStatus::Filled, Guard::Execution, &["accepted", "partially_filled"])]
    #[case(OrderStatus::PartiallyFilled, Guard::Execution, &["accepted", "partially_filled"])]
    #[case(OrderStatus::Accepted, Guard::Execution, &["received"])]
    #[case(OrderStatus::Received, Guard::Update, &["received"])]
    #[case(OrderStatus::Received, Guard::Execution, &[])]
    #[case(OrderStatus::Rejected, Guard::Update, &["received", "accepted"])]
    fn guards_follow_the_life_cycle(#[case] to: OrderStatus, #[case] guard: Guard, #[case] from: &[&str]) {
        assert_eq!(allowed_from(to, guard), from);
    }
}
