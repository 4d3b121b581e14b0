//! [`OrderRepository`] over SQLite: one row per order, status changes guarded by the order
//! life cycle, and executions (order + trade + position) in one transaction.

use async_trait::async_trait;
use axia_domain::ports::{OrderRepository, RepositoryError};
use axia_domain::{ClientOrderId, Order, OrderStatus, Position, Trade};
use rusqlite::{Connection, OptionalExtension};

use super::positions::save_position;
use super::{SqliteStateStore, conflict, decode, encode, micros, next_version, sql_err, sql_version, stored_version};
use crate::state_rules::{Guard, check_execution, check_transition};

fn what(id: &ClientOrderId) -> String {
    format!("order {id}")
}

/// Replaces the stored order conditional on its version and status; returns it with the new
/// version. `missing` is the error when the order does not exist.
fn update_order(
    conn: &Connection,
    order: &Order,
    guard: Guard,
    missing: fn(String) -> RepositoryError,
) -> Result<Order, RepositoryError> {
    let id = order.client_order_id();
    let w = what(id);
    let row: Option<(i64, String)> = conn
        .query_row("SELECT version, status FROM orders WHERE client_order_id = ?1", [id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sql_err)?;
    let Some((stored, status)) = row else {
        return Err(missing(w));
    };
    let stored = stored_version(&w, stored)?;
    if stored != order.version() {
        return Err(conflict(w, format!("expected version {}, stored version {stored}", order.version())));
    }
    let from: OrderStatus = status.parse().map_err(|e| RepositoryError::corrupt(&w, e))?;
    let to = order.status();
    check_transition(&w, from, to, guard)?;
    let next = order.clone().with_version(next_version(&w, order.version())?);
    conn.execute(
        "UPDATE orders SET status = ?2, version = ?3, doc = ?4 WHERE client_order_id = ?1 AND version = ?5",
        (id.as_str(), to.as_str(), sql_version(&w, next.version())?, encode(&w, &next)?, sql_version(&w, stored)?),
    )
    .map_err(sql_err)?;
    Ok(next)
}

/// Decodes a row, checking that the document belongs to it.
fn decode_row(id: &str, version: i64, doc: &str) -> Result<Order, RepositoryError> {
    let w = format!("order {id}");
    let version = stored_version(&w, version)?;
    let o: Order = decode(&w, doc)?;
    if o.client_order_id().as_str() != id || o.version() != version {
        return Err(RepositoryError::corrupt(
            w,
            format!("the document is order {} version {}, the row version {version}", o.client_order_id(), o.version()),
        ));
    }
    Ok(o)
}

#[async_trait]
impl OrderRepository for SqliteStateStore {
    async fn create(&self, order: &Order) -> Result<Order, RepositoryError> {
        let w = what(order.client_order_id());
        let stored = order.clone().with_version(1);
        let doc = encode(&w, &stored)?;
        let out = stored.clone();
        self.write(move |tx| {
            let id = stored.client_order_id().as_str();
            let n = tx
                .execute(
                    "INSERT INTO orders (client_order_id, status, version, created_at_us, doc)
                     VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (client_order_id) DO NOTHING",
                    (id, stored.status().as_str(), micros(stored.created_at()), &doc),
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(conflict(w, "an order with this client order id exists"));
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn update(&self, order: &Order) -> Result<Order, RepositoryError> {
        let order = order.clone();
        self.write(move |tx| update_order(tx, &order, Guard::Update, |what| RepositoryError::NotFound { what })).await
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Order>, RepositoryError> {
        let key = id.as_str().to_string();
        let row: Option<(i64, String)> = self
            .run(move |c| {
                c.query_row("SELECT version, doc FROM orders WHERE client_order_id = ?1", [&key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(sql_err)
            })
            .await?;
        row.map(|(v, doc)| decode_row(id.as_str(), v, &doc)).transpose()
    }

    async fn list(&self, status: Option<OrderStatus>, limit: usize) -> Result<Vec<Order>, RepositoryError> {
        let status = status.map(OrderStatus::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, i64, String)> = self
            .run(move |c| {
                let mut st = c
                    .prepare(
                        "SELECT client_order_id, version, doc FROM orders WHERE (?1 IS NULL OR status = ?1)
                         ORDER BY created_at_us DESC, seq DESC LIMIT ?2",
                    )
                    .map_err(sql_err)?;
                let rows = st.query_map((status, limit), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await?;
        rows.iter().map(|(id, v, doc)| decode_row(id, *v, doc)).collect()
    }

    /// The order's version and status are checked first, so a second execution of the same
    /// order (a duplicate delivery) is a [`RepositoryError::Conflict`] and writes nothing.
    async fn record_execution(
        &self,
        order: &Order,
        trade: &Trade,
        position: &Position,
    ) -> Result<(Order, Position), RepositoryError> {
        check_execution(order, trade, position)?;
        let (order, trade, position) = (order.clone(), trade.clone(), position.clone());
        let trade_doc = encode(&format!("trade {}", trade.trade_id()), &trade)?;
        self.write(move |tx| {
            let missing = |what| conflict(what, "it does not exist");
            let stored_order = update_order(tx, &order, Guard::Execution, missing)?;
            let n = tx
                .execute(
                    "INSERT INTO trades (trade_id, client_order_id, position_id, executed_at_us, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (trade_id) DO NOTHING",
                    (
                        trade.trade_id(),
                        trade.client_order_id().as_str(),
                        &position.position_id,
                        micros(trade.executed_at()),
                        &trade_doc,
                    ),
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(conflict(format!("trade {}", trade.trade_id()), "it is already recorded"));
            }
            let stored_position = save_position(tx, &position)?;
            Ok((stored_order, stored_position))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::ports::TradeRepository;
    use axia_domain::{OrderSpec, OrderType, Side, Symbol};
    use chrono::{DateTime, TimeZone, Utc};
    use rust_decimal::Decimal;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap()
    }

    fn accepted(store_id: &str) -> Order {
        let (id, symbol) = (ClientOrderId::new(store_id).unwrap(), Symbol::new("EURUSD").unwrap());
        let spec = OrderSpec::new(id, symbol, Side::Buy, OrderType::Market, Decimal::ONE, None);
        let mut o = Order::received(spec, t0());
        o.transition(OrderStatus::Accepted, t0()).unwrap();
        o
    }

    #[tokio::test]
    async fn sqlite_failed_execution_writes_nothing() {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        let created = store.create(&Order::received(accepted("c-1").spec().clone(), t0())).await.unwrap();
        let mut order = created.clone();
        order.transition(OrderStatus::Accepted, t0()).unwrap();
        let order = store.update(&order).await.unwrap();
        let mut filled = order.clone();
        filled.fill(Decimal::ONE, Decimal::TWO, t0()).unwrap();
        let sym = Symbol::new("EURUSD").unwrap();
        let trade = Trade::new(
            "T1",
            filled.client_order_id().clone(),
            None,
            sym.clone(),
            Side::Buy,
            Decimal::ONE,
            Decimal::TWO,
            t0(),
        )
        .unwrap();
        // A position of version 3 that does not exist: the position condition fails last,
        // after the order and the trade were written inside the transaction.
        let mut position = Position::open("P1", "T1", sym, Side::Buy, Decimal::ONE, Decimal::TWO, t0()).unwrap();
        position.version = 3;
        let err = store.record_execution(&filled, &trade, &position).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Conflict { .. }), "{err:?}");
        assert_eq!(store.get(filled.client_order_id()).await.unwrap(), Some(order));
        assert!(store.for_order(filled.client_order_id()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn sqlite_execution_must_fill_and_match_its_trade() {
        let store = SqliteStateStore::open_in_memory().await.unwrap();
        let order = accepted("c-2");
        let sym = Symbol::new("EURUSD").unwrap();
        let other = ClientOrderId::new("c-3").unwrap();
        let trade = Trade::new("T1", other, None, sym.clone(), Side::Buy, Decimal::ONE, Decimal::TWO, t0()).unwrap();
        let position = Position::open("P1", "T1", sym, Side::Buy, Decimal::ONE, Decimal::TWO, t0()).unwrap();
        let err = store.record_execution(&order, &trade, &position).await.unwrap_err();
        assert!(matches!(err, RepositoryError::Invalid { .. }), "{err:?}");
    }
}
